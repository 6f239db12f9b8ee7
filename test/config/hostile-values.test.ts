/**
 * Every shipped template, rendered with hostile operator values (secrets with quotes,
 * backslashes, spaces, `#`, `:`, `@`, a newline; a node root whose path has spaces, `#`
 * and quotes), then read back the way its consumer reads it — each value must come
 * back exactly. One row per rendered file: when a daemon lands, put its definition in
 * DEFINITIONS and its file is loaded through its own config loader instead of plain YAML.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { apiConfigDefinition } from '@ngcp/api';
import { appserverDaemon } from '@ngcp/appserver';
import { lbDaemon } from '@ngcp/lb';
import { mediactlDaemon } from '@ngcp/mediactl';
import { mediatorDaemon } from '@ngcp/mediator';
import { proxyDaemon } from '@ngcp/proxy';
import { sbcDaemon } from '@ngcp/sbc';
import { getIn, initConfigDir, loadConfig, nodePaths, parseKeyPath, renderNode, type NodePaths, type RenderedFile } from '@ngcp/config';
import { parseDaemonConfig, type DaemonConfigDefinition } from '@ngcp/daemon';
import { freePort, redisRaw } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml, parseDocument } from 'yaml';

const execFileP = promisify(execFile);
const REPO = resolve(import.meta.dirname, '../..');

/** Each secret holds what breaks a naive template: quotes, backslashes, spaces, #, :, @, /, a newline, non-ASCII. */
const SECRETS = {
  db_root_password: `r"o'o\\t #1: {x} @/`,
  db_password: `d"b \\"pw\\ #x: y\nsecond line`,
  redis_password: `re"dis \\ #pw: @x/1\nline2 %s $HOME é`,
  api_password: `a"p'i: #- [x] \\n not-a-newline`,
  sip_nonce_secret: `n"o #nce \\ : x`,
  heartbeat_key: ` k"e y \\ # : \t tab-inside `,
  replication_password: `re"pl \\ #pw: x`,
} as const;
type Secret = keyof typeof SECRETS;

/**
 * The loaders of the daemons that exist; a rendered etc/ngcp/<name>.yml of a daemon not
 * listed here is only YAML-parsed. Add `lb: lbDaemon` etc. as they land.
 */
const DEFINITIONS: Record<string, DaemonConfigDefinition<unknown>> = {
  api: apiConfigDefinition as DaemonConfigDefinition<unknown>,
  appserver: appserverDaemon as unknown as DaemonConfigDefinition<unknown>,
  lb: lbDaemon as unknown as DaemonConfigDefinition<unknown>,
  proxy: proxyDaemon as unknown as DaemonConfigDefinition<unknown>,
  mediactl: mediactlDaemon as unknown as DaemonConfigDefinition<unknown>,
  mediator: mediatorDaemon as unknown as DaemonConfigDefinition<unknown>,
  sbc: sbcDaemon as unknown as DaemonConfigDefinition<unknown>,
};

/** Per daemon file: key path in the rendered file → the secret (or a path of the node) it must carry exactly. */
type Expect = Record<string, { secret: Secret } | { path: (p: NodePaths, socket: string) => string }>;
const redisPw: Expect = { 'redis.password': { secret: 'redis_password' } };
const db: Expect = { 'db.password': { secret: 'db_password' }, 'db.socket': { path: (_p, socket) => socket } };
const DAEMON_FILES: Record<string, Expect> = {
  api: {
    ...db,
    ...redisPw,
    'admin.password': { secret: 'api_password' },
    'tls.cert': { path: (p) => `${p.root}/var/api/tls/cert.pem` },
    'tls.key': { path: (p) => `${p.root}/var/api/tls/key.pem` },
    'admin.credentials_file': { path: (p) => `${p.root}/var/api/credentials.env` },
    // the app-server's recordings (appserver.voicemail.dir absent: under the node root)
    'voicemail.dir': { path: (p) => `${p.root}/var/spool/voicemail` },
  },
  lb: { ...db, ...redisPw },
  proxy: { ...db, ...redisPw, 'auth.nonce_secret': { secret: 'sip_nonce_secret' } },
  mediactl: redisPw,
  sbc: { ...db, ...redisPw },
  // the operator's sounds under the hostile node root (config.yml `appserver.sounds_dir`, set below)
  appserver: { ...db, sounds_dir: { path: (p) => `${p.root}/var/sounds` }, 'voicemail.dir': { path: (p) => `${p.root}/var/spool/voicemail` } },
  hbd: { key: { secret: 'heartbeat_key' } },
  mediator: db,
};

let dir: string;
let paths: NodePaths;
let files: Map<string, RenderedFile>;
let socket: string;
let redisPort: number;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ngcp-hostile-'));
  // a node root whose path needs quoting everywhere
  const root = join(dir, `ro ot #1 "q" 'a' \\b: c`);
  const configDir = join(root, 'etc/ngcp-config');
  initConfigDir(join(REPO, 'ngcp-config'), configDir);
  const constants = parseDocument(readFileSync(join(configDir, 'constants.yml'), 'utf8'));
  constants.set('credentials', { ...SECRETS });
  writeFileSync(join(configDir, 'constants.yml'), constants.toString());
  redisPort = await freePort({ host: '127.0.0.2' });
  const cfg = parseDocument(readFileSync(join(configDir, 'config.yml'), 'utf8'));
  cfg.setIn(['redis', 'port'], redisPort);
  cfg.setIn(['rtpproxy', 'ng_port'], await freePort({ udp: true, host: '127.0.0.2' }));
  cfg.setIn(['appserver', 'sounds_dir'], `${root}/var/sounds`);
  writeFileSync(join(configDir, 'config.yml'), cfg.toString());
  paths = nodePaths(root);
  const loaded = loadConfig({ configDir, node: 'self' });
  expect(loaded.config.credentials).toEqual(SECRETS); // the hostile values are legal config
  const r = renderNode({
    loaded,
    paths,
    templateDirs: [join(REPO, 'ngcp-config/templates')],
    apps: Object.fromEntries(Object.keys(DAEMON_FILES).map((n) => [n, `/apps/${n}/dist/main.js`])),
    bins: { mariadbd: '/usr/sbin/mariadbd', redisServer: '/usr/bin/redis-server', rtpengine: '/usr/bin/rtpengine' },
    nodeBin: process.execPath,
    cwd: REPO,
    isRoot: false,
  });
  files = new Map(r.files.map((f) => [f.path, f]));
  socket = r.context.mysqlSocket;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function rendered(path: string): string {
  const f = files.get(path);
  if (!f) throw new Error(`${path} was not rendered (have ${[...files.keys()].join(', ')})`);
  return f.content;
}

describe('shipped templates with hostile operator values', () => {
  it('covers every shipped template', () => {
    const covered = new Set([...Object.keys(DAEMON_FILES).map((n) => `etc/ngcp/${n}.yml`), 'etc/redis/redis.conf', 'etc/mysql/my.cnf', 'etc/rtpengine/rtpengine.conf']);
    const shipped = [...files.values()].filter((f) => f.source !== '(services)').map((f) => f.path);
    expect(shipped.filter((p) => !covered.has(p))).toEqual([]);
  });

  for (const [name, expected] of Object.entries(DAEMON_FILES)) {
    it(`etc/ngcp/${name}.yml: ${DEFINITIONS[name] ? 'its daemon’s config loader' : 'YAML'} reads every value back exactly`, () => {
      const text = rendered(`etc/ngcp/${name}.yml`);
      const def = DEFINITIONS[name];
      const data = def ? parseDaemonConfig(def, text, `${name}.yml`) : (parseYaml(text) as unknown);
      for (const [key, want] of Object.entries(expected)) {
        const value = 'secret' in want ? SECRETS[want.secret] : want.path(paths, socket);
        expect(getIn(data, parseKeyPath(key)), `${name}.yml ${key}`).toEqual({ found: true, value });
      }
    });
  }

  it('etc/mysql/my.cnf: MariaDB’s own option reader (my_print_defaults) reads the paths back exactly', async () => {
    const file = join(dir, 'my.cnf');
    writeFileSync(file, rendered('etc/mysql/my.cnf'));
    const { stdout } = await execFileP('my_print_defaults', [`--defaults-file=${file}`, 'mysqld']);
    const opts = new Map(stdout.trim().split('\n').map((l) => [l.slice(2, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    expect(opts.get('datadir')).toBe(`${paths.data}/mariadb/data`);
    expect(opts.get('socket')).toBe(socket);
    expect(opts.get('pid-file')).toBe(`${paths.run}/mysqld.pid`);
  });

  it('etc/rtpengine/rtpengine.conf: GLib key-file rules give back the redis endpoint with the exact password', () => {
    const values = keyFileStrings(rendered('etc/rtpengine/rtpengine.conf'), 'rtpengine');
    expect(values.get('redis')).toBe(`${SECRETS.redis_password}@127.0.0.2:${redisPort}/1`);
    expect(values.get('redis-write')).toBe(values.get('redis'));
    expect(values.get('pidfile')).toBe(`${paths.run}/rtpengine.pid`);
  });

  it('etc/redis/redis.conf: a real redis-server starts with it and takes the exact password; a real rtpengine with etc/rtpengine/rtpengine.conf authenticates to it', async () => {
    mkdirSync(join(paths.data, 'redis'), { recursive: true });
    const conf = join(dir, 'redis.conf');
    writeFileSync(conf, rendered('etc/redis/redis.conf'));
    const child = spawn('redis-server', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    const exited = new Promise((r) => child.on('exit', r));
    try {
      const auth = ['AUTH', SECRETS.redis_password];
      let reply = '';
      for (let i = 0; i < 300; i++) {
        reply = await redisRaw('127.0.0.2', redisPort, [auth, ['PING'], ['CONFIG', 'GET', 'dir']], 2000).catch((e: Error) => `ERR ${e.message}`);
        if (!reply.startsWith('ERR ') || child.exitCode !== null) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      expect(reply, out).toBe(`+OK\r\n+PONG\r\n*2\r\n$3\r\ndir\r\n$${Buffer.byteLength(join(paths.data, 'redis'))}\r\n${join(paths.data, 'redis')}\r\n`);
      // and nothing else opens it: the password cut at the first quote or newline is refused
      const wrong = await redisRaw('127.0.0.2', redisPort, [['AUTH', SECRETS.redis_password.split(/["\n]/)[0]!]], 2000);
      expect(wrong).toMatch(/^-WRONGPASS/);
      await rtpengineAuthenticates(auth);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  }, 120_000);
});

/**
 * etc/rtpengine/rtpengine.conf with the real rtpengine: it reads its Redis endpoint
 * (password included) from the file and selects database 1 on that redis — which only
 * an authenticated client can.
 */
async function rtpengineAuthenticates(auth: string[]): Promise<void> {
  const conf = join(dir, 'rtpengine.conf');
  writeFileSync(conf, rendered('etc/rtpengine/rtpengine.conf'));
  mkdirSync(paths.run, { recursive: true });
  await redisRaw('127.0.0.2', redisPort, [auth, ['ACL', 'LOG', 'RESET']], 2000);
  const child = spawn('rtpengine', [`--config-file=${conf}`, '--config-section=rtpengine'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise((r) => child.on('exit', r));
  try {
    let clients = '';
    for (let i = 0; i < 300 && child.exitCode === null; i++) {
      clients = await redisRaw('127.0.0.2', redisPort, [auth, ['CLIENT', 'LIST']], 2000).catch(() => '');
      if (/ db=1 /.test(clients)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(clients, out).toMatch(/ db=1 /);
    const denied = await redisRaw('127.0.0.2', redisPort, [auth, ['ACL', 'LOG']], 2000);
    expect(denied, 'no failed AUTH in ACL LOG').toBe('+OK\r\n*0\r\n');
  } finally {
    child.kill('SIGTERM');
    await exited;
  }
}

/**
 * The string values of one group of a GLib key file, as g_key_file_get_string gives them
 * (what rtpengine's config loader calls): `#` comment lines, `key = value` with the
 * whitespace around `=` and leading whitespace of the value dropped, escapes `\s \n \t
 * \r \\` (any other escape is an error).
 */
function keyFileStrings(text: string, group: string): Map<string, string> {
  const out = new Map<string, string>();
  let current = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || line.trim() === '') continue;
    const g = /^\[(.+)\]$/.exec(line);
    if (g) {
      current = g[1]!;
      continue;
    }
    if (current !== group) continue;
    const eq = line.indexOf('=');
    const key = line.slice(0, eq).trim();
    const raw = line.slice(eq + 1).replace(/^[ \t]+/, '');
    const value = raw.replace(/\\(.)/g, (_m, c: string) => {
      const map: Record<string, string> = { s: ' ', n: '\n', t: '\t', r: '\r', '\\': '\\' };
      if (!(c in map)) throw new Error(`invalid escape \\${c} in ${key}`);
      return map[c]!;
    });
    out.set(key, value);
  }
  return out;
}

