/**
 * `ngcpcfg build`: render every template (and the service definitions) in memory,
 * compare with what is on disk, then write only what changed — atomically, file by
 * file — and remember in a manifest which services each rendered file belongs to.
 * Which services to restart follows from the changed files.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { serviceSpecs, type Binaries, type ServiceSpec } from './ecosystem.js';
import type { LoadedConfig } from './load.js';
import { nodeAddresses, type NodeAddresses } from './network.js';
import type { NodePaths } from './paths.js';
import type { NgcpConfig } from './schema.js';
import { quote, type Quoters } from './quote.js';
import { proxyWorkerCount } from './workers.js';
import { loadTemplates, renderTemplate, type ServiceAction } from './template.js';

/** What a template sees as `it`. */
export interface TemplateContext {
  cfg: NgcpConfig;
  node: {
    name: string;
    pair: string | null;
    peer: string | null;
    addr: NodeAddresses;
    peerAddr: NodeAddresses | null;
  };
  paths: NodePaths;
  /** Running as root (MariaDB then needs `user=root`). */
  isRoot: boolean;
  /** MariaDB's unix socket: `<root>/var/run/mysqld.sock`, or a short path in the temp dir if that is too long. */
  mysqlSocket: string;
  /** Service definitions of this node, by name (to know e.g. whether hbd runs). */
  services: Record<string, ServiceSpec>;
  /** Proxy worker processes of this node (`proxy.workers`, 0 = one per core): worker i on `proxy.port + i`. */
  proxyWorkers: number;
  /** Escaping per target format: `<%= it.q.yaml(it.cfg.credentials.db_password) %>` (adds the quotes). */
  q: Quoters;
}

/** sun_path is 108 bytes on Linux. */
export function mysqlSocketPath(paths: NodePaths): string {
  const p = join(paths.run, 'mysqld.sock');
  if (Buffer.byteLength(p) <= 100) return p;
  return join(tmpdir(), `ngcp-mysqld-${createHash('sha256').update(paths.root).digest('hex').slice(0, 12)}.sock`);
}

export interface RenderedFile {
  /** Relative to the node root, e.g. `etc/ngcp/lb.yml`. */
  path: string;
  content: string;
  mode: number;
  services: Record<string, ServiceAction>;
  /** The template, or `(services)` for generated definitions. */
  source: string;
}

export interface RenderOptions {
  loaded: LoadedConfig;
  paths: NodePaths;
  /** Template dirs, later ones overriding earlier ones path by path. */
  templateDirs: string[];
  /** Built daemons: name → entry script. */
  apps: Record<string, string>;
  bins: Binaries;
  nodeBin: string;
  /** Working dir of the daemons (the checkout). */
  cwd: string;
  isRoot: boolean;
}

export function renderNode(opts: RenderOptions): { files: RenderedFile[]; specs: ServiceSpec[]; context: TemplateContext } {
  const { loaded, paths } = opts;
  const cfg = loaded.config;
  const host = cfg.hosts[loaded.node]!;
  const addr = nodeAddresses(cfg, loaded.node);
  const specs = serviceSpecs({
    cfg,
    node: loaded.node,
    addr,
    hasPeer: host.peer !== null,
    paths,
    apps: opts.apps,
    bins: opts.bins,
    nodeBin: opts.nodeBin,
    cwd: opts.cwd,
  });
  const context: TemplateContext = {
    cfg,
    node: {
      name: loaded.node,
      pair: host.pair,
      peer: host.peer,
      addr,
      peerAddr: host.peer !== null ? nodeAddresses(cfg, host.peer) : null,
    },
    paths,
    isRoot: opts.isRoot,
    mysqlSocket: mysqlSocketPath(paths),
    services: Object.fromEntries(specs.map((s) => [s.name, s])),
    proxyWorkers: proxyWorkerCount(cfg),
    q: quote,
  };
  const files: RenderedFile[] = loadTemplates(opts.templateDirs).map((t) => ({
    path: t.target,
    content: renderTemplate(t, context),
    mode: t.mode,
    services: t.services,
    source: t.source,
  }));
  for (const s of specs) {
    files.push({
      path: `etc/ngcp/services/${s.name}.json`,
      content: `${JSON.stringify(s, null, 2)}\n`,
      mode: 0o600,
      services: { [s.name]: 'restart' },
      source: '(services)',
    });
  }
  files.push({
    path: 'etc/ngcp/ecosystem.json',
    content: `${JSON.stringify({ apps: specs.map((s) => s.pm2) }, null, 2)}\n`,
    mode: 0o600,
    services: {},
    source: '(services)',
  });
  return { files: files.sort((a, b) => a.path.localeCompare(b.path)), specs, context };
}

export interface ManifestEntry {
  sha256: string;
  mode: number;
  services: Record<string, ServiceAction>;
}

export interface Manifest {
  version: 1;
  files: Record<string, ManifestEntry>;
}

const sha256 = (s: string | Buffer): string => createHash('sha256').update(s).digest('hex');

export function readManifest(paths: NodePaths): Manifest {
  try {
    const m = JSON.parse(readFileSync(paths.manifest, 'utf8')) as Manifest;
    if (m.version === 1 && m.files) return m;
  } catch {
    // first build
  }
  return { version: 1, files: {} };
}

export interface BuildPlan {
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
  /** Services to act on, restart winning over reload. */
  services: Record<string, ServiceAction>;
}

function addServices(into: Record<string, ServiceAction>, from: Record<string, ServiceAction>): void {
  for (const [name, action] of Object.entries(from)) if (into[name] !== 'restart') into[name] = action;
}

/** What writing `files` would change, judged against the files really on disk. */
export function planBuild(paths: NodePaths, files: RenderedFile[], manifest = readManifest(paths)): BuildPlan {
  const plan: BuildPlan = { added: [], changed: [], removed: [], unchanged: [], services: {} };
  const now = new Set(files.map((f) => f.path));
  for (const f of files) {
    const abs = join(paths.root, f.path);
    let disk: Buffer | undefined;
    try {
      disk = readFileSync(abs);
    } catch {
      disk = undefined;
    }
    if (disk === undefined) plan.added.push(f.path);
    else if (sha256(disk) !== sha256(f.content)) plan.changed.push(f.path);
    else {
      plan.unchanged.push(f.path);
      continue;
    }
    addServices(plan.services, f.services);
  }
  for (const [path, entry] of Object.entries(manifest.files)) {
    if (now.has(path)) continue;
    plan.removed.push(path);
    addServices(plan.services, entry.services);
  }
  return plan;
}

function writeAtomic(abs: string, content: string, mode: number): void {
  mkdirSync(dirname(abs), { recursive: true });
  const tmp = `${abs}.ngcpcfg-${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  renameSync(tmp, abs);
}

/** Writes the changed and added files, deletes the removed ones, records the manifest. */
export function writeBuild(paths: NodePaths, files: RenderedFile[], plan: BuildPlan): void {
  const touch = new Set([...plan.added, ...plan.changed]);
  for (const f of files) if (touch.has(f.path)) writeAtomic(join(paths.root, f.path), f.content, f.mode);
  for (const p of plan.removed) rmSync(join(paths.root, p), { force: true });
  const manifest: Manifest = {
    version: 1,
    files: Object.fromEntries(files.map((f) => [f.path, { sha256: sha256(f.content), mode: f.mode, services: f.services }])),
  };
  writeAtomic(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`, 0o644);
}

/** The service definitions currently rendered on disk (what the supervisor runs). */
export function readServiceSpecs(paths: NodePaths): ServiceSpec[] {
  const manifest = readManifest(paths);
  const out: ServiceSpec[] = [];
  for (const p of Object.keys(manifest.files)) {
    if (!/^etc\/ngcp\/services\/[^/]+\.json$/.test(p)) continue;
    const abs = join(paths.root, p);
    if (!existsSync(abs)) continue;
    out.push(JSON.parse(readFileSync(abs, 'utf8')) as ServiceSpec);
  }
  return out.sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}
