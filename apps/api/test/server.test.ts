/** The real server: generated TLS certificate, first admin, HTTPS on a socket, and main.ts with SIGTERM. */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { X509Certificate } from 'node:crypto';
import { useMariaDb, useRedis } from '@ngcp/testkit/vitest';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { resolveConfig, type ApiConfig } from '../src/config.js';
import { startServer } from '../src/server.js';

const mariadb = useMariaDb({ grantAll: true });
const redis = useRedis();
const dir = mkdtempSync(join(tmpdir(), 'ngcp-api-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function get(url: string, ca: string, auth?: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca, headers: auth ? { authorization: auth } : {}, ...(agent ? { agent } : {}) }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function configFor(name: string, extra: Record<string, unknown> = {}): ApiConfig {
  const m = mariadb();
  const r = redis();
  return resolveConfig({
    listen: { host: '127.0.0.1', port: 0 },
    tls: { cert: join(dir, name, 'tls/cert.pem'), key: join(dir, name, 'tls/key.pem'), hostnames: ['localhost', '127.0.0.1'] },
    db: { host: m.host, port: m.port, user: m.user, password: m.password, database: name },
    redis: { host: r.host, port: r.port },
    admin: { credentials_file: join(dir, name, 'credentials.env') },
    log: { level: 'silent', requests: false },
    ...extra,
  });
}

/** Generating an RSA key takes seconds: the later tests reuse the first test's pair. */
function reuseCertificate(from: ApiConfig, certPath: string, keyPath: string): void {
  mkdirSync(dirname(certPath), { recursive: true });
  mkdirSync(dirname(keyPath), { recursive: true });
  copyFileSync(from.tls.cert, certPath);
  copyFileSync(from.tls.key, keyPath);
}
let firstConfig: ApiConfig;

async function createDatabase(name: string): Promise<void> {
  const { createDb } = await import('@ngcp/db');
  const m = mariadb();
  const db = createDb({ ...m.connectionConfig() });
  await db.raw(`CREATE DATABASE \`${name}\``);
  await db.destroy();
}

describe('startServer', () => {
  it('first start: migrates, generates a certificate, creates the admin with a generated password, serves HTTPS', async () => {
    await createDatabase('first');
    const config = configFor('first');
    firstConfig = config;
    const api = await startServer(config, pino({ level: 'silent' }));
    try {
      expect(api.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      const cert = readFileSync(config.tls.cert, 'utf8');
      expect(statSync(config.tls.key).mode & 0o777).toBe(0o600);
      const x509 = new X509Certificate(cert);
      expect(x509.subjectAltName).toContain('IP Address:127.0.0.1');
      const creds = readFileSync(config.admin.credentials_file!, 'utf8');
      expect(statSync(config.admin.credentials_file!).mode & 0o777).toBe(0o600);
      const env = Object.fromEntries(creds.trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)));
      expect(env.API_URL).toBe(api.url);
      expect(api.url).not.toMatch(/:0$/);
      expect(env.API_USER).toBe('administrator');
      expect(env.API_PASS).toMatch(/^[\w-]{24}$/);
      const auth = `Basic ${Buffer.from(`${env.API_USER}:${env.API_PASS}`).toString('base64')}`;
      const ok = await get(`${api.url}/api/domains`, cert, auth);
      expect(ok.status).toBe(200);
      expect(JSON.parse(ok.body).total_count).toBe(0);
      expect((await get(`${api.url}/api/domains`, cert)).status).toBe(401);
      expect((await get(`${api.url}/api/docs`, cert)).status).toBe(200);
      // one keep-alive connection: a changed Authorization header is checked again, not taken from the last one
      const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: cert });
      const sockets = new Set<unknown>();
      agent.on('free', (sock) => sockets.add(sock));
      try {
        expect((await get(`${api.url}/api/domains`, cert, auth, agent)).status).toBe(200);
        const wrong = `Basic ${Buffer.from(`${env.API_USER}:not-${env.API_PASS}`).toString('base64')}`;
        expect((await get(`${api.url}/api/domains`, cert, wrong, agent)).status).toBe(401);
        expect((await get(`${api.url}/api/domains`, cert, auth, agent)).status).toBe(200);
        expect(sockets.size).toBe(1);
      } finally {
        agent.destroy();
      }
    } finally {
      await api.close();
    }
    // second start: same certificate, admin not recreated, credentials file untouched
    const before = readFileSync(config.admin.credentials_file!, 'utf8');
    const certBefore = readFileSync(config.tls.cert, 'utf8');
    const again = await startServer(config, pino({ level: 'silent' }));
    await again.close();
    expect(readFileSync(config.tls.cert, 'utf8')).toBe(certBefore);
    expect(readFileSync(config.admin.credentials_file!, 'utf8')).toBe(before);
  }, 60_000);

  it('uses the configured admin password; refuses a half-present key pair', async () => {
    await createDatabase('second');
    const config = configFor('second', { admin: { login: 'root', password: 'configured-pw', credentials_file: join(dir, 'second', 'c.env') } });
    reuseCertificate(firstConfig, config.tls.cert, config.tls.key);
    const api = await startServer(config, pino({ level: 'silent' }));
    try {
      const cert = readFileSync(config.tls.cert, 'utf8');
      expect((await get(`${api.url}/api/domains`, cert, `Basic ${Buffer.from('root:configured-pw').toString('base64')}`)).status).toBe(200);
      expect(readFileSync(join(dir, 'second', 'c.env'), 'utf8')).toContain('API_PASS=configured-pw');
    } finally {
      await api.close();
    }
    rmSync(config.tls.key);
    await expect(startServer(config, pino({ level: 'silent' }))).rejects.toThrow(/only one of/);
  }, 60_000);
});

describe('main.ts', () => {
  it('reads NGCP_API_CONFIG (YAML), serves, and drains on SIGTERM with exit code 0', async () => {
    await createDatabase('main');
    const m = mariadb();
    const r = redis();
    const base = join(dir, 'main');
    const yml = join(dir, 'api.yml');
    writeFileSync(yml, [
      'listen:', '  host: 127.0.0.1', '  port: 0', 'tls:', `  cert: ${base}/cert.pem`, `  key: ${base}/key.pem`,
      'db:', `  host: ${m.host}`, `  port: ${m.port}`, `  user: ${m.user}`, `  password: "${m.password}"`, '  database: main',
      'redis:', `  host: ${r.host}`, `  port: ${r.port}`, 'admin:', '  login: admin', '  password: main-admin-pw', `  credentials_file: ${base}/cred.env`,
      'log:', '  level: info', '  requests: false', '',
    ].join('\n'));
    reuseCertificate(firstConfig, `${base}/cert.pem`, `${base}/key.pem`);
    const here = dirname(fileURLToPath(import.meta.url));
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', join(here, '../src/main.ts')], {
      env: { ...process.env, NGCP_API_CONFIG: yml }, stdio: ['ignore', 'pipe', 'pipe'], cwd: join(here, '..'),
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (out += c));
    const url = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no "api listening" in 120 s:\n${out}`)), 120_000);
      child.stdout.on('data', () => {
        const line = out.split('\n').find((l) => l.includes('api listening'));
        if (line) {
          clearTimeout(t);
          resolve(JSON.parse(line).url as string);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}:\n${out}`)));
    });
    const cert = readFileSync(`${base}/cert.pem`, 'utf8');
    expect((await get(`${url}/api/domains`, cert, `Basic ${Buffer.from('admin:main-admin-pw').toString('base64')}`)).status).toBe(200);
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    expect(await exit).toBe(0);
    expect(out).toContain('"msg":"stopping"');
    expect(out).toContain('"msg":"stopped"');
    expect(out).not.toContain('main-admin-pw');
    expect(out).not.toContain(m.password);
  }, 180_000);
});
