/**
 * startMariaDb for tests: @ngcp/services' MariaDB in a temp dir on a free port, with
 * test settings (not crash-safe) and a fresh datadir copied from a template that is
 * initialised once per machine and mariadbd build.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  findBinary,
  installMariaDbData,
  pidAlive,
  removeDirSync,
  startMariaDb as startService,
  type MariaDbInstance,
  type MariaDbOptions as ServiceOptions,
} from '@ngcp/services';
import { recordChildPid } from './dirs.js';
import { freePort, releasePort } from './ports.js';
import { startPrivate } from './private.js';

export interface MariaDbOptions extends Omit<ServiceOptions, 'dataDir' | 'port' | 'initFrom' | 'onSpawn'> {
  /** Default: a free port (see freePort). */
  port?: number;
  /** Default: a new temp dir, removed on stop. */
  dataDir?: string;
  /** Keep the dir on stop. Default false for temp dirs, true when dataDir is given. */
  keepData?: boolean;
  /** false = crash-safe settings. Default false for temp dirs, true when dataDir is given. */
  durable?: boolean;
  /**
   * Initialise fresh datadirs by copying a cached, once-initialised template
   * ($TMPDIR/ngcp-testkit-cache) instead of running mariadb-install-db (≈0.05 s vs ≈0.8 s).
   * Default: true unless durable.
   */
  useTemplate?: boolean;
}

const TEMPLATE_VERSION = 'install-db:no-defaults,normal-root-auth,skip-test-db,fast-redo:1';
const templates = new Map<string, Promise<string>>();

/** Path of a datadir template initialised once per machine and mariadbd build (cross-process safe). */
function ensureTemplate(opts: MariaDbOptions): Promise<string> {
  const mariadbd = findBinary(['mariadbd', 'mysqld'], opts.mariadbdBinary);
  const st = statSync(mariadbd);
  const key = createHash('sha256')
    .update(JSON.stringify([mariadbd, st.size, st.mtimeMs, TEMPLATE_VERSION, process.getuid?.()]))
    .digest('hex')
    .slice(0, 16);
  let p = templates.get(key);
  if (!p) {
    p = (async () => {
      const cache = join(tmpdir(), 'ngcp-testkit-cache');
      const final = join(cache, `mariadb-${key}`);
      if (existsSync(join(final, '.complete'))) return join(final, 'data');
      mkdirSync(cache, { recursive: true, mode: 0o700 });
      sweepTemplateBuilds(cache);
      const build = await mkdtemp(join(cache, `build-${process.pid}-`));
      try {
        await installMariaDbData(join(build, 'data'), { durable: false, ...(opts.installDbBinary ? { installDbBinary: opts.installDbBinary } : {}) });
        writeFileSync(join(build, '.complete'), new Date().toISOString());
        try {
          renameSync(build, final);
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
          // another process won the race; use theirs
        }
      } finally {
        await rm(build, { recursive: true, force: true });
      }
      return join(final, 'data');
    })();
    p.catch(() => templates.delete(key));
    templates.set(key, p);
  }
  return p;
}

function sweepTemplateBuilds(cache: string): void {
  for (const name of readdirSync(cache)) {
    const m = /^build-(\d+)-/.exec(name);
    if (m && !pidAlive(Number(m[1]))) {
      try {
        removeDirSync(join(cache, name));
      } catch {
        /* racing sweeper */
      }
    }
  }
}

export async function startMariaDb(opts: MariaDbOptions = {}): Promise<MariaDbInstance> {
  const host = opts.host ?? '127.0.0.1';
  const { useTemplate: _useTemplate, ...rest } = opts;
  return startPrivate({
    service: 'mariadb',
    opts,
    inUse: /Address already in use|Can't start server: Bind/i,
    reserve: async () => {
      if (opts.port !== undefined) return { ports: opts.port, auto: false, release: () => undefined };
      const port = await freePort({ tcp: true, host });
      return { ports: port, auto: true, release: () => releasePort(port) };
    },
    start: async (inst, port) => {
      const durable = opts.durable ?? !inst.temp;
      const fresh = !existsSync(join(inst.dir, 'data/mysql'));
      const initFrom = fresh && (opts.useTemplate ?? !durable) ? await ensureTemplate(opts) : undefined;
      return startService({
        ...rest,
        dataDir: inst.dir,
        port,
        durable,
        keepData: !inst.removeOnStop,
        ...(initFrom ? { initFrom } : {}),
        onSpawn: (pid) => recordChildPid(inst, pid),
      });
    },
  });
}
