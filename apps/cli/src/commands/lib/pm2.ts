/**
 * The node's supervisor: pm2 with its home under `<root>/var/pm2` (never a system
 * pm2), driven through its own CLI in a child process so two node roots never share
 * state. `kill()` stops the pm2 daemon and every process it runs — nothing else.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import type { Pm2App } from '@ngcp/config';

const execFileP = promisify(execFile);
const require = createRequire(import.meta.url);

export function pm2Bin(): string {
  return join(dirname(require.resolve('pm2/package.json')), 'bin/pm2');
}

export interface Pm2Process {
  name: string;
  pid: number;
  /** online, stopping, stopped, launching, errored, one-launch-status */
  status: string;
  restarts: number;
  unstableRestarts: number;
  /** ms since epoch of the last (re)start */
  uptimeSince: number;
  memory: number;
  cpu: number;
}

export class Pm2Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Pm2Error';
  }
}

export class Pm2 {
  constructor(
    readonly home: string,
    readonly runDir: string,
  ) {}

  private async run(args: string[], allowFail = false): Promise<string> {
    mkdirSync(this.home, { recursive: true });
    try {
      const r = await execFileP(process.execPath, [pm2Bin(), ...args], {
        // the daemon keeps the env of the command that started it: SIGTERM is how every
        // process here stops cleanly (pm2's default SIGINT is ignored by MariaDB)
        env: { ...process.env, PM2_HOME: this.home, PM2_KILL_SIGNAL: 'SIGTERM', PM2_DISCRETE_MODE: 'true', FORCE_COLOR: '0', NO_COLOR: '1' },
        maxBuffer: 64 * 1024 * 1024,
        timeout: 120_000,
      });
      return r.stdout;
    } catch (e) {
      if (allowFail) return '';
      const x = e as { stderr?: string; stdout?: string; message: string };
      const text = `${x.stderr ?? ''}\n${x.stdout ?? ''}`.trim().split('\n').slice(-5).join(' ');
      throw new Pm2Error(`pm2 ${args[0]} failed: ${text || x.message}`);
    }
  }

  /** PID of this home's pm2 daemon, if it is running. */
  daemonPid(): number | null {
    const f = join(this.home, 'pm2.pid');
    if (!existsSync(f)) return null;
    const pid = Number(readFileSync(f, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0) return null;
    try {
      process.kill(pid, 0);
    } catch {
      return null;
    }
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      if (!cmd.includes('PM2') && !cmd.includes('pm2')) return null;
    } catch {
      return null;
    }
    return pid;
  }

  async list(): Promise<Pm2Process[]> {
    if (this.daemonPid() === null) return [];
    const out = await this.run(['jlist']);
    const line = out.split('\n').find((l) => l.startsWith('['));
    if (!line) return [];
    const raw = JSON.parse(line) as {
      name: string;
      pid: number;
      pm2_env: { status: string; restart_time: number; unstable_restarts: number; pm_uptime: number };
      monit?: { memory: number; cpu: number };
    }[];
    return raw.map((p) => ({
      name: p.name,
      pid: p.pid,
      status: p.pm2_env.status,
      restarts: p.pm2_env.restart_time,
      unstableRestarts: p.pm2_env.unstable_restarts,
      uptimeSince: p.pm2_env.pm_uptime,
      memory: p.monit?.memory ?? 0,
      cpu: p.monit?.cpu ?? 0,
    }));
  }

  /** Starts one app from its definition (deleting a previous one of the same name first, unless `fresh`). */
  async start(app: Pm2App, fresh = false): Promise<void> {
    mkdirSync(this.runDir, { recursive: true });
    mkdirSync(dirname(app.out_file), { recursive: true });
    const file = join(this.runDir, `${app.name}.pm2.json`);
    writeFileSync(file, JSON.stringify({ apps: [app] }, null, 2), { mode: 0o600 });
    if (!fresh) await this.run(['delete', app.name], true);
    await this.run(['start', file]);
  }

  async delete(name: string): Promise<void> {
    await this.run(['delete', name]);
  }

  async stop(name: string): Promise<void> {
    await this.run(['stop', name]);
  }

  async restart(name: string): Promise<void> {
    await this.run(['restart', name]);
  }

  async reload(name: string): Promise<void> {
    await this.run(['reload', name]);
  }

  /**
   * Stops every process of this home and its pm2 daemon, and waits until they are
   * gone; whatever is still there after the grace time gets SIGKILL (by PID: only the
   * daemon and the processes it reported).
   */
  async kill(graceMs = 40_000): Promise<number[]> {
    const daemon = this.daemonPid();
    if (daemon === null) return [];
    const pids = [daemon, ...(await this.list().catch(() => [])).map((p) => p.pid).filter((p) => p > 0)];
    await this.run(['kill'], true);
    const deadline = Date.now() + graceMs;
    while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    for (const pid of pids.filter(alive)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    return pids;
  }
}

/** Running (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
