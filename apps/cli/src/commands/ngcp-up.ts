/**
 * `ngcp up` (after deploy/bootstrap.sh): make this node run.
 *
 *  1. the config dir and history (ngcpcfg init) if absent, the config checked;
 *  2. MariaDB's data initialised if absent (@ngcp/services' startMariaDb in the node's
 *     data dir, then stopped), Redis's data dir;
 *  3. config rendered (ngcpcfg build);
 *  4. MariaDB, Redis, rtpengine started under pm2 and waited for, then the database
 *     migrations (@ngcp/db `migrate.latest`; a failure fails `up`), then the daemons in
 *     order, each waited for until healthy;
 *  5. var/api.env written (0600), operator commands installed on the PATH (wrappers in
 *     /usr/local/bin pointing at this checkout, one line each), the status printed —
 *     with the API password only the first time (afterwards: where it is).
 *
 * constants.yml (the generated secrets) is made 0600 on every run.
 *
 * A second run finds everything up and changes nothing.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { INFRA_ORDER, planBuild, protectSecrets, writeBuild, type NgcpConfig } from '@ngcp/config';
import { createDb, migrate as migrations } from '@ngcp/db';
import { mariadbReplicationStatus, startMariaDb } from '@ngcp/services';
import { initNode } from './ngcpcfg.js';
import { describePlan, renderChecked } from './ngcpcfg-apply.js';
import { formatRows, statusRows } from './ngcp-status.js';
import { EXIT, parseFlags, type Io } from './lib/io.js';
import { resolveNode, type NodeContext } from './lib/node.js';
import { applyRole, nodeStores, type StoreRole } from './lib/roles.js';
import type { Rendered } from './lib/render.js';
import { Supervisor, type StepResult } from './lib/supervisor.js';
import { installMotd, installWrappers, motdDir, OPERATOR_COMMANDS, wrapperDir } from './lib/wrappers.js';

export { OPERATOR_COMMANDS };

export const USAGE = 'usage: ngcp up [--root DIR] [--node NAME] [--peer-root DIR] [--role lead|follow] [--bin-dir DIR [--motd-dir DIR] | --no-bin]';

async function initData(ctx: NodeContext, io: Io, r: Rendered): Promise<boolean> {
  const { paths } = ctx;
  for (const d of [paths.data, paths.log, paths.run, join(paths.data, 'redis')]) mkdirSync(d, { recursive: true });
  const cfg = r.loaded.config;
  const dbDir = join(paths.data, 'mariadb');
  if (!r.specs.some((s) => s.name === 'mariadb') || existsSync(join(dbDir, 'data/mysql'))) return true;
  const t0 = Date.now();
  io.out(`ngcp up: initialising MariaDB data in ${dbDir} …`);
  try {
    const db = await startMariaDb({
      dataDir: dbDir,
      host: r.context.node.addr.internal,
      port: cfg.database.port,
      database: cfg.database.name,
      user: cfg.database.user,
      password: cfg.credentials.db_password,
      rootPassword: cfg.credentials.db_root_password,
      bufferPoolSize: cfg.database.buffer_pool_size,
    });
    await db.stop();
  } catch (e) {
    io.err(`ngcp up: MariaDB could not be initialised: ${(e as Error).message}`);
    return false;
  }
  io.out(`ngcp up: MariaDB data ready (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return true;
}

/** Applies the pending migrations of @ngcp/db; false (error printed) if they fail. */
async function migrate(io: Io, cfg: NgcpConfig, socket: string): Promise<boolean> {
  const db = createDb({ socket, user: cfg.database.user, password: cfg.credentials.db_password, database: cfg.database.name, acquireTimeoutMs: 30_000 });
  try {
    const { names } = await migrations.latest(db);
    io.out(names.length ? `ngcp up: migrations applied: ${names.join(', ')}` : 'ngcp up: migrations done (schema up to date)');
    return true;
  } catch (e) {
    io.err(`ngcp up: migrations FAILED, the node is not up: ${(e as Error).message}`);
    return false;
  } finally {
    await db.destroy().catch(() => undefined);
  }
}

function stepLine(s: StepResult): string {
  return s.ok ? `ngcp up: ${s.name} ${s.action === 'start' ? 'started' : `${s.action}ed`}, healthy (${(s.ms / 1000).toFixed(1)} s)` : `ngcp up: ${s.name} is NOT healthy after ${s.action}: ${s.reason ?? ''}`;
}

export async function main(argv: string[], io: Io, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const p = parseFlags(argv, ['root', 'node', 'peer-root', 'bin-dir', 'motd-dir', 'role'], ['no-bin', 'help']);
  if (!p.error && p.flags.role !== undefined && p.flags.role !== 'lead' && p.flags.role !== 'follow') p.error = `--role must be lead or follow (got ${String(p.flags.role)})`;
  if (p.error || p.flags.help || p.rest.length) {
    (p.flags.help ? io.out : io.err)(p.error ? `ngcp up: ${p.error}\n${USAGE}` : USAGE);
    return p.flags.help ? EXIT.OK : EXIT.USAGE;
  }
  const ctx = resolveNode({ root: p.flags.root as string | undefined, node: p.flags.node as string | undefined, env });

  // 1. config dir + history
  const initFlags: Record<string, string | true> = {};
  if (p.flags.node) initFlags.node = p.flags.node;
  if (p.flags['peer-root']) initFlags['peer-root'] = p.flags['peer-root'];
  const rc = await initNode(ctx, io, initFlags);
  if (rc !== EXIT.OK) return rc;
  if (protectSecrets(ctx.paths.configDir)) io.out(`ngcp up: ${ctx.paths.configDir}/constants.yml holds the secrets: made it readable by its owner only (0600)`);
  const r = renderChecked(ctx, io);
  if (typeof r === 'number') return r;
  const cfg = r.loaded.config;

  // 2. data
  if (!(await initData(ctx, io, r))) return EXIT.FAIL;

  // 3. render
  const plan = planBuild(ctx.paths, r.files);
  writeBuild(ctx.paths, r.files, plan);
  const changed = describePlan(plan);
  if (changed.length) io.out(`ngcp up: rendered ${changed.length} file(s) into ${ctx.paths.etc}`);

  // 4. processes: infrastructure, migrations, daemons
  const sup = new Supervisor(ctx.paths);
  const infra = new Set(Object.keys(INFRA_ORDER));
  const onStep = (s: StepResult): void => (s.ok ? io.out(stepLine(s)) : io.err(stepLine(s)));
  const first = await sup.converge({ actions: plan.services, start: 'not-online', only: (n) => infra.has(n), onStep });
  if (!first.ok) return EXIT.UNHEALTHY;
  const hasMariaDb = r.specs.some((s) => s.name === 'mariadb');
  const stores = nodeStores(cfg, ctx.node, r.context.mysqlSocket);
  const role = p.flags.role as StoreRole | undefined;
  let roleChanged = false;
  if (role) {
    if (!stores.peer) {
      io.err(`ngcp up: --role is for a node of a pair; ${ctx.node} has no peer in network.yml`);
      return EXIT.USAGE;
    }
    try {
      roleChanged = (await applyRole(stores, role, (l) => io.out(`ngcp up: ${l}`))).changed;
    } catch (e) {
      io.err(`ngcp up: the ${role} role of MariaDB/Redis could not be set: ${(e as Error).message}`);
      return EXIT.FAIL;
    }
  }
  // a pair migrates on the writable (leading) node only; the follower gets the schema by replication
  let migrateHere = hasMariaDb;
  if (hasMariaDb && stores.peer && role !== 'lead') {
    migrateHere = role === undefined && !(await mariadbReplicationStatus(stores.mariadb!).then((s) => s.readOnly, () => true));
    if (!migrateHere) io.out('ngcp up: MariaDB is read-only here (not the lead of the pair): no migrations, the schema comes by replication');
  }
  if (migrateHere && !(await migrate(io, cfg, r.context.mysqlSocket))) return EXIT.FAIL;
  const second = await sup.converge({ actions: plan.services, start: 'not-online', only: (n) => !infra.has(n), onStep });
  const acted = first.steps.length + second.steps.length + (roleChanged ? 1 : 0);

  // 5. api.env, PATH, status
  const api = cfg.api;
  const apiUrl = `https://${r.context.node.addr.web}:${api.port}`;
  mkdirSync(join(ctx.paths.root, 'var'), { recursive: true });
  const apiEnv = `API_URL=${apiUrl}\nAPI_USER=${api.user}\nAPI_PASS=${cfg.credentials.api_password}\n`;
  const before = existsSync(ctx.paths.apiEnv) ? readFileSync(ctx.paths.apiEnv, 'utf8') : undefined;
  // the password is shown once: when this node's api.env first gets it (first up, or a new password)
  const newPassword = !before?.includes(`\nAPI_PASS=${cfg.credentials.api_password}\n`);
  if (before !== apiEnv) writeFileSync(ctx.paths.apiEnv, apiEnv, { mode: 0o600 });
  chmodSync(ctx.paths.apiEnv, 0o600);
  const binDir = wrapperDir(ctx, p.flags);
  if (binDir) installWrappers(ctx, io, binDir);
  const motd = motdDir(ctx, p.flags);
  if (binDir && motd) installMotd(ctx, io, motd, binDir);

  const rows = await statusRows(sup);
  if (!acted) io.out(`ngcp up: node ${ctx.node} is already up; nothing to do`);
  io.out('');
  for (const l of formatRows(rows)) io.out(l);
  io.out('');
  const lb = r.specs.find((s) => s.name === 'lb');
  const a = r.context.node.addr;
  io.out(
    lb
      ? `SIP:  udp+tcp ${a.public}:${cfg.lb.sip_port}${cfg.lb.tls_enable ? `, tls ${a.public}:${cfg.lb.tls_port}` : ''} (lb)`
      : `SIP:  not listening yet (apps/lb is not built; it will listen on ${a.public}:${cfg.lb.sip_port})`,
  );
  const apiRunning = r.specs.some((s) => s.name === 'api');
  const notBuilt = apiRunning ? '' : '  (apps/api is not built yet)';
  if (newPassword) {
    io.out(`API:  ${apiUrl}  user ${api.user}  password ${cfg.credentials.api_password}${notBuilt}`);
    io.out(`      (the password is shown this once; it stays in ${ctx.paths.apiEnv}, mode 0600)`);
  } else {
    io.out(`API:  ${apiUrl}  user ${api.user}  (password in ${ctx.paths.apiEnv}, mode 0600)${notBuilt}`);
  }
  io.out(`Config: ${ctx.paths.configDir} — edit, then: ./ngcp ngcpcfg apply "why"`);
  return second.ok && rows.every((x) => x.status === 'online' && x.health === 'ok') ? EXIT.OK : EXIT.UNHEALTHY;
}
