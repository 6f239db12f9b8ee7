/**
 * The lab for tests: its namespace names are fixed (sp1, sp2, client, carrier, gw), so
 * one test at a time may have it up, on one machine. `labSkipReason()` says why a lab
 * test cannot run here (not root, a tool missing, a lab up that is not a test's);
 * `acquireLabLock()` makes the run the only one (a lock file holding our PID; the lock
 * of a dead PID is taken over) and returns its release. `labCli()` runs this checkout's
 * `ngcp-lab` (or another operator command), bounded in time.
 */
import { execFileSync, spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const CHECKOUT = resolve(import.meta.dirname, '../..');
export const LOCK = '/run/lock/ngcp-lab-test.lock';
/** Lab dirs of tests start with this (a test may take over such a lab that a dead run left). */
export const TEST_DIR_PREFIX = 'ngcp-labtest-';
export const NAMESPACES = ['gw', 'sp1', 'sp2', 'client', 'carrier'];

function has(cmd: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export function presentNamespaces(): string[] {
  return NAMESPACES.filter((n) => existsSync(join('/run/netns', n)));
}

/** The dir of the lab recorded in /run/ngcp-lab.json, if any. */
export function recordedLabDir(): string | undefined {
  try {
    return (JSON.parse(readFileSync('/run/ngcp-lab.json', 'utf8')) as { dir?: string }).dir;
  } catch {
    return undefined;
  }
}

export function labSkipReason(): string | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return 'the lab needs root (network namespaces)';
  for (const c of ['ip', 'sipp', 'curl']) if (!has(c)) return `the lab test needs ${c}`;
  if (!existsSync(join(CHECKOUT, 'apps/cli/dist/bin/ngcp-lab.js'))) return 'apps/cli is not built';
  // while another run holds the lock its lab is in flux (namespaces made before the record is
  // written): judge the lab once we hold the lock (acquireLabLock), not now
  if (lockHolder() !== undefined) return undefined;
  return foreignLab();
}

/** Why the lab as it is now is not a test's to take over (a lab a person brought up), or undefined. */
function foreignLab(): string | undefined {
  const dir = recordedLabDir();
  if (dir && !dir.includes(TEST_DIR_PREFIX)) return `a lab is up (${dir}) that is not a test's; 'ngcp lab down' first`;
  if (!dir && presentNamespaces().length) return `namespaces ${presentNamespaces().join(' ')} exist and are not a test lab's`;
  return undefined;
}

/** The live PID holding the lab lock (not this process), if any. */
function lockHolder(): number | undefined {
  try {
    const holder = Number(readFileSync(LOCK, 'utf8').trim() || '0');
    return holder && holder !== process.pid && pidAlive(holder) ? holder : undefined;
  } catch {
    return undefined;
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes the lab lock (waiting up to `waitMs` for another run); returns the release. */
export async function acquireLabLock(waitMs = 300_000): Promise<() => void> {
  const until = Date.now() + waitMs;
  for (;;) {
    try {
      const fd = openSync(LOCK, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const release = () => {
        try {
          if (readFileSync(LOCK, 'utf8').trim() === String(process.pid)) rmSync(LOCK, { force: true });
        } catch {
          // gone
        }
      };
      // the lab may have been left by a person (labSkipReason could not tell while another run held the lock)
      const foreign = foreignLab();
      if (foreign) {
        release();
        throw new Error(foreign);
      }
      return release;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(readFileSync(LOCK, 'utf8').trim() || '0');
      if (!holder || !pidAlive(holder)) {
        rmSync(LOCK, { force: true });
        continue;
      }
      if (Date.now() > until) throw new Error(`the lab is locked by pid ${holder} (${LOCK})`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** Runs `cmd args` (optionally in namespace `ns`); SIGKILL by PID after `limitMs`. */
export function run(cmd: string, args: string[], o: { ns?: string; limitMs?: number; env?: NodeJS.ProcessEnv } = {}): Promise<CliResult> {
  const [c, ...a] = o.ns ? ['ip', 'netns', 'exec', o.ns, cmd, ...args] : [cmd, ...args];
  return new Promise((res) => {
    const p = spawn(c!, a, { stdio: ['ignore', 'pipe', 'pipe'], env: o.env ?? process.env });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => (out += d.toString()));
    p.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => {
      err += `\n(killed after ${o.limitMs ?? 60_000} ms)`;
      if (p.pid) process.kill(p.pid, 'SIGKILL');
    }, o.limitMs ?? 60_000);
    p.on('close', (code) => {
      clearTimeout(timer);
      res({ code, out, err });
    });
    p.on('error', (e) => {
      clearTimeout(timer);
      res({ code: 127, out, err: err + e.message });
    });
  });
}

/** This checkout's operator command `name` (apps/cli/dist/bin/<name>.js). */
export function cli(name: string, args: string[], o: { ns?: string; limitMs?: number } = {}): Promise<CliResult> {
  const env = { ...process.env };
  delete env.NGCP_ROOT;
  delete env.NGCP_NODE;
  return run(process.execPath, [join(CHECKOUT, 'apps/cli/dist/bin', `${name}.js`), ...args], { ...o, env });
}

/** PIDs of processes whose command line mentions `needle`. */
export function processesMentioning(needle: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(needle)) out.push(Number(d));
    } catch {
      // gone
    }
  }
  return out;
}

/** curl from the `client` namespace to the API at `host` (basic auth): status and parsed JSON (the text when not JSON). */
export async function apiCurl(auth: { user: string; pass: string }, host: string, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
  const args = ['-sk', '-o', '-', '-w', '\n%{http_code}', '-u', `${auth.user}:${auth.pass}`, '-X', method, `https://${host}:1443${path}`];
  if (body !== undefined) args.push('-H', 'Content-Type: application/json', '-d', JSON.stringify(body));
  const r = await run('curl', args, { ns: 'client', limitMs: 20_000 });
  const lines = r.out.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  let json: unknown = text;
  try {
    json = text ? (JSON.parse(text) as unknown) : null;
  } catch {
    // not JSON (an error page)
  }
  return { status, json };
}

/** Every PID in network namespace `ns` (`ip netns pids`). */
export async function namespacePids(ns: string): Promise<number[]> {
  return (await run('ip', ['netns', 'pids', ns])).out.split('\n').map(Number).filter((p) => p > 0);
}

/** Sends `signal` to every process in namespace `ns` (a whole node: SIGKILL, SIGSTOP, SIGCONT); the PIDs signalled. */
export async function signalNamespace(ns: string, signal: NodeJS.Signals): Promise<number[]> {
  const pids = await namespacePids(ns);
  for (const p of pids) {
    try {
      process.kill(p, signal);
    } catch {
      // gone already
    }
  }
  return pids;
}

/** The HA daemon's Prometheus text of node `ns` (its control port on the node's internal address); '' when it does not answer within 2 s. */
export async function hbdMetrics(ns: string, port = 9094, address = '127.0.0.2'): Promise<string> {
  const r = await run('curl', ['-s', '--max-time', '2', `http://${address}:${port}/metrics`], { ns, limitMs: 5_000 });
  return r.code === 0 ? r.out : '';
}

/** Sum of `hbd_transitions_total{to="<to>",…}` over its rules in a metrics text (0 when absent). */
export function transitionsTo(metrics: string, to: 'active' | 'standby'): number {
  let n = 0;
  for (const line of metrics.split('\n')) {
    if (!line.startsWith('hbd_transitions_total{') || !line.includes(`to="${to}"`)) continue;
    n += Number(line.slice(line.lastIndexOf(' ') + 1)) || 0;
  }
  return n;
}

/**
 * How long a lab test waits for the lab: `./ngcp test` runs the lab tests (lab, failover,
 * media) one after the other through the lock, several minutes each.
 */
export const LAB_WAIT_MS = 1_500_000;
/** beforeAll bound of a test that waits for the lab and brings it up. */
export const LAB_SETUP_TIMEOUT_MS = LAB_WAIT_MS + 400_000;

export interface FreshLab {
  release: () => void;
  dir: string;
  /** The API's admin credentials (sp1's var/api.env). */
  api: { user: string; pass: string };
}

/**
 * Takes the lab lock (waiting up to LAB_WAIT_MS), drops a lab a dead test run left, brings a
 * new lab up in a temp dir and provisions `domain` with `users` (username → password)
 * through the API at `sharedIp`. On failure the lock is released.
 */
export async function freshLab(o: { sharedIp: string; domain: string; users: Record<string, string> }): Promise<FreshLab> {
  const release = await acquireLabLock(LAB_WAIT_MS);
  try {
    if (recordedLabDir()?.includes(TEST_DIR_PREFIX) || presentNamespaces().length) await cli('ngcp-lab', ['down', '--purge'], { limitMs: 120_000 });
    const dir = mkdtempSync(join(tmpdir(), TEST_DIR_PREFIX));
    const r = await cli('ngcp-lab', ['up', '--dir', dir], { limitMs: 240_000 });
    if (r.code !== 0) throw new Error(`lab up failed: ${r.out.slice(-3000)}\n${r.err}`);
    const env = readFileSync(join(dir, 'sp1/var/api.env'), 'utf8');
    const api = { user: /API_USER=(.*)/.exec(env)![1]!, pass: /API_PASS=(.*)/.exec(env)![1]! };
    const d = await apiCurl(api, o.sharedIp, 'POST', '/api/domains', { domain: o.domain });
    if (d.status !== 201) throw new Error(`POST /api/domains ${o.domain}: ${d.status} ${JSON.stringify(d.json)}`);
    for (const [username, password] of Object.entries(o.users)) {
      const s = await apiCurl(api, o.sharedIp, 'POST', '/api/subscribers', { domain: o.domain, username, password });
      if (s.status !== 201) throw new Error(`POST /api/subscribers ${username}: ${s.status} ${JSON.stringify(s.json)}`);
    }
    return { release, dir, api };
  } catch (e) {
    release();
    throw e;
  }
}

/**
 * What hbd decided on each node, for a failed test's output: the lab's logs are removed with
 * the lab, and a CI run keeps only what the test printed. The role changes, the peer roles
 * seen, refused requests and failed steps, and the worst event-loop pauses — from
 * `<dir>/<node>/var/log/hbd.log`, the last `lines` of them per node.
 */
export function hbdStory(dir: string, lines = 40): string {
  const keep = /role change|peer role|request refused|step failed|becoming|now (active|standby)|stall|drift|handing|took over/;
  return ['sp1', 'sp2']
    .map((node) => {
      let text = '';
      try {
        text = readFileSync(join(dir, node, 'var/log/hbd.log'), 'utf8');
      } catch (e) {
        return `--- ${node}: no hbd.log (${(e as Error).message})`;
      }
      const picked = text.split('\n').filter((l) => keep.test(l)).slice(-lines);
      return `--- ${node} hbd.log (last ${picked.length} decisions)\n${picked.join('\n')}`;
    })
    .join('\n');
}
