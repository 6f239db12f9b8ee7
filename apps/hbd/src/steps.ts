/**
 * The steps of a role change. Each is a small object with `activate` and `deactivate`;
 * becoming active runs them in STEP_NAMES order (shared IP, gratuitous ARP, Redis,
 * media, MariaDB, notify, jobs), becoming standby runs `deactivate` in the reverse order. The
 * driver times and logs each. Another implementation of a step (e.g. the lab's
 * replication functions) plugs in through `HaStep`.
 */
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { Redis } from 'ioredis';
import { createConnection } from 'mysql2/promise';
import { RpcClient, RpcError, RPC_ERRORS } from '@ngcp/rpc';
import type { HbdConfig, HbdMariadbConfig, StepName } from './config.js';
import type { Role } from './role-machine.js';
import { mariadbReplicationStep, replicates } from './mariadb-replication.js';

/** What a step knows about the change it is part of. */
export interface StepContext {
  role: Role;
  epoch: number;
  node: string;
  peer: string;
  /** A step's work that goes on after it returned (the arping) reports its failure here. */
  onBackgroundFailure?: (err: Error) => void;
  /** …and what it did, when it succeeded (logged with the step's name). */
  onBackgroundDone?: (step: StepName, fields: Record<string, unknown>, msg: string) => void;
}

export interface HaStep {
  readonly name: StepName;
  activate(ctx: StepContext): Promise<void>;
  deactivate(ctx: StepContext): Promise<void>;
  /**
   * The audit (ha-node.ts): does the world still match `role`, which this step made
   * true? Answers what drifted (e.g. "Redis is master on a standby node", after a
   * restart of Redis), or null. A step without a check is never audited. A check that
   * cannot tell (the server is down) answers null: the step's own run would fail too.
   */
  check?(role: Role): Promise<string | null>;
}

/** A step failed: which, and the command's or server's own words. */
export class StepError extends Error {
  readonly code = 'HA_STEP_FAILED';
  constructor(
    readonly step: StepName,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${step}: ${message}`, options);
    this.name = 'StepError';
  }
}

/** Prepended to every command `run()` starts (see runChildrenAsOrdinary). */
let childPrefix: readonly string[] = [];

/**
 * On (hbd runs SCHED_RR, priority.ts): every command `run()` starts is exec'd through
 * `chrt --other 0`. The forked child inherits SCHED_RR, so it reaches its first execve()
 * (of chrt) at once — Node's spawn blocks the event loop until then — and chrt makes it an
 * ordinary task before it execs the command: `ip`, `arping` and pm2 never run real-time.
 */
export function runChildrenAsOrdinary(on: boolean): void {
  childPrefix = on ? ['chrt', '--other', '0'] : [];
}

/** Runs argv (no shell) bounded by `timeoutMs`; resolves with stderr+stdout, rejects with them on a non-zero exit. */
export function run(argv: readonly string[], timeoutMs: number): Promise<{ code: number; output: string }> {
  if (!argv[0]) return Promise.reject(new Error('empty command'));
  const [cmd, ...args] = [...childPrefix, ...argv];
  if (!cmd) return Promise.reject(new Error('empty command'));
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      const output = `${stderr}${stdout}`.trim();
      if (!err) return resolve({ code: 0, output });
      const e = err as NodeJS.ErrnoException & { code?: unknown; killed?: boolean };
      if (typeof e.code === 'string') return resolve({ code: 127, output: `${cmd}: ${e.code}` });
      resolve({ code: typeof e.code === 'number' ? e.code : 1, output: e.killed ? `${cmd}: timed out after ${timeoutMs} ms` : output || e.message });
    });
  });
}

/** `ip addr add <ip>/<len> dev <dev> label <dev>:ha` / `ip addr del …`; already there / already gone is fine. */
export function sharedIpStep(cfg: Pick<HbdConfig, 'shared_ips' | 'step_timeout_ms'>, runCmd = run): HaStep {
  const each = async (op: 'add' | 'del'): Promise<void> => {
    for (const s of cfg.shared_ips) {
      const argv = op === 'add' ? ['ip', 'addr', 'add', `${s.ip}/${s.prefix}`, 'dev', s.dev, 'label', `${s.dev}:ha`] : ['ip', 'addr', 'del', `${s.ip}/${s.prefix}`, 'dev', s.dev];
      const r = await runCmd(argv, cfg.step_timeout_ms);
      const benign = op === 'add' ? /File exists|already assigned/i : /Cannot assign requested address|not found/i;
      if (r.code !== 0 && !benign.test(r.output)) throw new StepError('shared_ip', `${argv.join(' ')}: ${r.output || `exit ${r.code}`}`);
    }
  };
  const check = async (role: Role): Promise<string | null> => {
    for (const s of cfg.shared_ips) {
      const r = await runCmd(['ip', '-o', '-4', 'addr', 'show', 'dev', s.dev], cfg.step_timeout_ms);
      if (r.code !== 0) return null;
      const held = r.output.split('\n').some((l) => new RegExp(`\\binet ${s.ip.replace(/\./g, '\\.')}/`).test(l));
      if (role === 'active' && !held) return `shared IP ${s.ip} is missing on ${s.dev}`;
      if (role === 'standby' && held) return `shared IP ${s.ip} is held on ${s.dev} by a standby node`;
    }
    return null;
  };
  return { name: 'shared_ip', activate: () => each('add'), deactivate: () => each('del'), check };
}

/**
 * Gratuitous ARP for each shared IP (`arping -U -c 1 -I <dev> <ip>`), so neighbours move to
 * this node's MAC. arping sends at once but then lingers ~1 s waiting for answers an
 * unsolicited ARP never gets, so the step does not wait for it: the later steps (Redis,
 * MariaDB) go on, and a failing arping is logged and counted when it ends.
 */
export function arpStep(cfg: Pick<HbdConfig, 'shared_ips' | 'step_timeout_ms'>, runCmd = run): HaStep {
  return {
    name: 'arp',
    async activate(ctx) {
      for (const s of cfg.shared_ips) {
        const argv = ['arping', '-U', '-c', '1', '-I', s.dev, s.ip];
        void runCmd(argv, cfg.step_timeout_ms).then((r) => {
          // iputils arping exits 1 when no reply came; an unsolicited ARP gets none.
          if (r.code !== 0 && r.code !== 1) ctx.onBackgroundFailure?.(new StepError('arp', `${argv.join(' ')}: ${r.output || `exit ${r.code}`}`));
        });
      }
    },
    async deactivate() {},
  };
}

/** Redis: `REPLICAOF NO ONE` when active; `REPLICAOF <peer>` when standby (only promote/demote if no peer is configured). */
export function redisStep(cfg: Pick<HbdConfig, 'redis' | 'step_timeout_ms'>): HaStep {
  const r = cfg.redis;
  const withRedis = async (fn: (c: Redis) => Promise<void>): Promise<void> => {
    if (!r) return;
    const c = new Redis({ host: r.host, port: r.port, password: r.password ?? undefined, lazyConnect: true, connectTimeout: cfg.step_timeout_ms, commandTimeout: cfg.step_timeout_ms, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      await fn(c);
    } catch (e) {
      throw new StepError('redis', `${r.host}:${r.port}: ${(e as Error).message}`, { cause: e });
    } finally {
      c.disconnect();
    }
  };
  const check = async (role: Role): Promise<string | null> => {
    let found: string | null = null;
    try {
      await withRedis(async (c) => {
        const reply = (await c.call('ROLE')) as unknown[];
        const kind = String(reply[0]);
        if (role === 'active' && kind !== 'master') found = `Redis is a ${kind} on the active node`;
        else if (role === 'standby' && r?.peer_host && r.peer_port) {
          if (kind === 'master') found = 'Redis is master on a standby node';
          else if (kind === 'slave' && (String(reply[1]) !== r.peer_host || Number(reply[2]) !== r.peer_port)) found = `Redis replicates ${String(reply[1])}:${String(reply[2])}, not the peer ${r.peer_host}:${r.peer_port}`;
        }
      });
    } catch {
      return null; // unreachable: the step itself would fail; nothing to correct now
    }
    return found;
  };
  return {
    name: 'redis',
    check,
    activate: () => withRedis(async (c) => void (await c.call('REPLICAOF', 'NO', 'ONE'))),
    deactivate: () =>
      withRedis(async (c) => {
        if (!r?.peer_host || !r.peer_port) return;
        if (r.password) await c.call('CONFIG', 'SET', 'masterauth', r.password);
        await c.call('REPLICAOF', r.peer_host, String(r.peer_port));
      }),
  };
}

/**
 * One command on rtpengine's CLI (`listen-cli`, what rtpengine-ctl speaks): a line out, the
 * answer until rtpengine closes the connection; bounded by `timeoutMs`.
 */
export function rtpengineCli(host: string, port: number, command: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let out = '';
    const sock = connect({ host, port });
    const timer = setTimeout(() => sock.destroy(new Error(`no answer to '${command}' within ${timeoutMs} ms`)), timeoutMs);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.end(`${command}\n`));
    sock.on('data', (d: string) => (out += d));
    sock.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    sock.on('close', (hadError) => {
      clearTimeout(timer);
      if (!hadError) resolve(out.trim());
    });
  });
}

/**
 * Media (rtpengine, issue 9 "media"): both nodes' rtpengine write their calls to Redis DB
 * `keyspace`; the standby's Redis replicates the active's and its rtpengine, subscribed to
 * that keyspace, holds every call as a *foreign* one (sockets bound on the shared IP,
 * forwarding whatever arrives). Active: `active` (every call becomes this node's own: its
 * timeouts apply, its changes are written to Redis) then `ksrm` (no more notifications of
 * its own writes). Standby: `standby` (every call foreign, nothing written) then `ksadd`.
 */
export function mediaStep(
  cfg: Pick<HbdConfig, 'media' | 'step_timeout_ms'> & Partial<Pick<HbdConfig, 'redis'>>,
  cli = rtpengineCli,
  retry = { everyMs: 500, forMs: 60_000 },
  store: MediaStore | null = cfg.redis && cfg.media ? redisMediaStore(cfg.redis, cfg.media.keyspace, cfg.step_timeout_ms) : null,
): HaStep {
  const m = cfg.media;
  const ks = m?.keyspace ?? 0;
  let generation = 0;
  const say = async (commands: Array<[string, RegExp]>): Promise<void> => {
    if (!m) return;
    for (const [command, ok] of commands) {
      let answer: string;
      try {
        answer = await cli(m.cli_host, m.cli_port, command, cfg.step_timeout_ms);
      } catch (e) {
        throw new StepError('media', `rtpengine ${m.cli_host}:${m.cli_port} '${command}': ${(e as Error).message}`, { cause: e });
      }
      if (!ok.test(answer)) throw new StepError('media', `rtpengine ${m.cli_host}:${m.cli_port} '${command}': ${answer || 'no answer'}`);
    }
  };
  const refused = (e: unknown): boolean => ((e as StepError).cause as NodeJS.ErrnoException | undefined)?.code === 'ECONNREFUSED';
  /**
   * hbd starts before rtpengine (pm2 order): a refused connection is retried in the
   * background (bounded; a later role change cancels it) and the step reports it.
   */
  const apply = async (ctx: StepContext, commands: Array<[string, RegExp]>, then?: (mine: number) => void): Promise<void> => {
    const mine = ++generation;
    try {
      await say(commands);
      then?.(mine);
    } catch (e) {
      if (!refused(e)) throw e;
      const until = Date.now() + retry.forMs;
      void (async () => {
        for (;;) {
          await new Promise((r) => setTimeout(r, retry.everyMs));
          if (generation !== mine) return;
          try {
            await say(commands);
            return void then?.(mine);
          } catch (again) {
            if (!refused(again) || Date.now() > until) return void ctx.onBackgroundFailure?.(again as Error);
          }
        }
      })();
      throw new StepError('media', `${(e as Error).message.replace(/^media: /, '')}; retrying for ${retry.forMs / 1000} s in the background`, { cause: e });
    }
  };
  /**
   * The standby's rtpengine must hold exactly the calls of the replica's keyspace. Keyspace
   * events cover changes, not what a (re)started rtpengine restored from a stale Redis, nor
   * what a full resynchronisation loaded (it raises no events). So once the replica is in
   * sync, the calls rtpengine lacks get a `set` event and the ones Redis no longer has a
   * `del` event — PUBLISHed on the replica's keyspace channel, which a replica allows and
   * rtpengine cannot tell from Redis' own.
   */
  const reconcile = async (ctx: StepContext, mine: number): Promise<void> => {
    if (!m || !store) return;
    const until = Date.now() + retry.forMs;
    while (!(await store.inSync().catch(() => false))) {
      if (generation !== mine) return;
      if (Date.now() > until) throw new StepError('media', `the replica was not in sync within ${retry.forMs / 1000} s: rtpengine's calls not reconciled`);
      await new Promise((r) => setTimeout(r, retry.everyMs));
    }
    if (generation !== mine) return;
    const listed = await cli(m.cli_host, m.cli_port, 'list sessions foreign', cfg.step_timeout_ms);
    const held = new Set([...listed.matchAll(/callid:\s*(\S+) \|/g)].map((x) => x[1]!));
    const stored = new Set(await store.callIds());
    const missing = [...stored].filter((c) => !held.has(c));
    const stale = [...held].filter((c) => !stored.has(c));
    for (const c of missing) await store.publish(c, 'set');
    for (const c of stale) await store.publish(c, 'del');
    ctx.onBackgroundDone?.('media', { calls: stored.size, learned: missing.length, dropped: stale.length }, "rtpengine's calls reconciled with the replica");
  };
  return {
    name: 'media',
    activate: (ctx) => apply(ctx, [['active', /^Ok, all calls set/], [`ksrm ${ks}`, /unsubscribed|is not among/]]),
    deactivate: (ctx) =>
      apply(ctx, [['standby', /^Ok, all calls set/], [`ksadd ${ks}`, /Success adding|already among/]], (mine) => {
        void reconcile(ctx, mine).catch((e: unknown) => {
          if (generation === mine) ctx.onBackgroundFailure?.(e instanceof StepError ? e : new StepError('media', `reconcile: ${(e as Error).message}`, { cause: e }));
        });
      }),
  };
}

/** What the media step's reconciliation needs of the node's Redis. */
export interface MediaStore {
  /** A replica whose link to its master is up (in sync). */
  inSync(): Promise<boolean>;
  /** The call-ids in rtpengine's keyspace. */
  callIds(): Promise<string[]>;
  /** A keyspace event for one call (`set` / `del`), as Redis would publish it. */
  publish(callId: string, event: 'set' | 'del'): Promise<void>;
}

export function redisMediaStore(r: NonNullable<HbdConfig['redis']>, keyspace: number, timeoutMs: number): MediaStore {
  const withRedis = async <T>(fn: (c: Redis) => Promise<T>): Promise<T> => {
    const c = new Redis({ host: r.host, port: r.port, password: r.password ?? undefined, db: keyspace, lazyConnect: true, connectTimeout: timeoutMs, commandTimeout: timeoutMs, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    c.on('error', () => undefined);
    try {
      await c.connect();
      return await fn(c);
    } finally {
      c.disconnect();
    }
  };
  return {
    inSync: () => withRedis(async (c) => /master_link_status:up/.test(await c.info('replication'))),
    callIds: () =>
      withRedis(async (c) => {
        const out: string[] = [];
        let cursor = '0';
        do {
          const [next, keys] = await c.scan(cursor, 'COUNT', 1000);
          out.push(...keys);
          cursor = next;
        } while (cursor !== '0');
        return out;
      }),
    publish: (callId, event) => withRedis(async (c) => void (await c.publish(`__keyspace@${keyspace}__:${callId}`, event))),
  };
}

/** MariaDB: `SET GLOBAL read_only = 0` when active, `= 1` when standby. */
export function mariadbStep(cfg: Pick<HbdConfig, 'mariadb' | 'step_timeout_ms'>): HaStep {
  const m = cfg.mariadb;
  const setReadOnly = async (on: boolean): Promise<void> => {
    if (!m) return;
    let conn;
    try {
      conn = await createConnection({ host: m.host, port: m.port, socketPath: m.socket ?? undefined, user: m.user, password: m.password, connectTimeout: cfg.step_timeout_ms });
      await conn.query({ sql: `SET GLOBAL read_only = ${on ? 1 : 0}`, timeout: cfg.step_timeout_ms });
    } catch (e) {
      throw new StepError('mariadb', `${m.socket ?? `${m.host}:${m.port}`}: ${(e as Error).message}`, { cause: e });
    } finally {
      await conn?.end().catch(() => undefined);
    }
  };
  return { name: 'mariadb', activate: () => setReadOnly(false), deactivate: () => setReadOnly(true), check: (role) => (m ? readOnlyDrift(m, role, cfg.step_timeout_ms) : Promise.resolve(null)) };
}

/** The audit of MariaDB's writability: writable exactly on the active node (null when the server cannot be asked). */
export async function readOnlyDrift(m: Pick<HbdMariadbConfig, 'host' | 'port' | 'socket' | 'user' | 'password'>, role: Role, timeoutMs: number): Promise<string | null> {
  let conn;
  try {
    conn = await createConnection({ ...(m.socket ? { socketPath: m.socket } : { host: m.host, port: m.port }), user: m.user, password: m.password, connectTimeout: timeoutMs });
    const [rows] = await conn.query({ sql: 'SELECT @@GLOBAL.read_only AS ro', timeout: timeoutMs });
    const ro = Number((rows as Array<{ ro: unknown }>)[0]?.ro) === 1;
    if (role === 'active' && ro) return 'MariaDB is read-only on the active node';
    if (role === 'standby' && !ro) return 'MariaDB is writable on a standby node';
    return null;
  } catch {
    return null;
  } finally {
    await conn?.end().catch(() => undefined);
  }
}

/**
 * Tells each configured daemon `ha.role { role, epoch, node }` over its control RPC. A
 * daemon without that method is fine (it has nothing to do on a role change); one that
 * cannot be reached fails the step (logged; the change goes on).
 */
export function notifyStep(cfg: Pick<HbdConfig, 'notify' | 'step_timeout_ms'>): HaStep {
  const tell = async (ctx: StepContext): Promise<void> => {
    const failed: string[] = [];
    await Promise.all(
      cfg.notify.map(async (t) => {
        try {
          await new RpcClient(t.url, { timeoutMs: cfg.step_timeout_ms }).call('ha.role', { role: ctx.role, epoch: ctx.epoch, node: ctx.node });
        } catch (e) {
          if (e instanceof RpcError && e.code === RPC_ERRORS.METHOD_NOT_FOUND) return;
          failed.push(`${t.name}: ${(e as Error).message}`);
        }
      }),
    );
    if (failed.length) throw new StepError('notify', failed.join('; '));
  };
  return { name: 'notify', activate: tell, deactivate: tell };
}

/** Singleton jobs: each job's `start` argv when active, `stop` when standby. */
export function jobsStep(cfg: Pick<HbdConfig, 'jobs' | 'step_timeout_ms'>, runCmd = run): HaStep {
  const each = async (which: 'start' | 'stop'): Promise<void> => {
    const failed: string[] = [];
    for (const j of cfg.jobs) {
      const r = await runCmd(j[which], cfg.step_timeout_ms);
      if (r.code !== 0) failed.push(`${j.name} ${which}: ${r.output || `exit ${r.code}`}`);
    }
    if (failed.length) throw new StepError('jobs', failed.join('; '));
  };
  return { name: 'jobs', activate: () => each('start'), deactivate: () => each('stop') };
}

/** The configured steps in activation order, without the disabled ones. */
export function buildSteps(cfg: HbdConfig): HaStep[] {
  // a pair node's MariaDB replicates from the active peer (GTID); without the peer named, only read_only flips
  const mariadb = replicates(cfg) ? mariadbReplicationStep(cfg) : mariadbStep(cfg);
  const all: HaStep[] = [sharedIpStep(cfg), arpStep(cfg), redisStep(cfg), mediaStep(cfg), mariadb, notifyStep(cfg), jobsStep(cfg)];
  return all.filter((s) => !cfg.disabled_steps.includes(s.name));
}
