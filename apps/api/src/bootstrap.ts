/**
 * First start: with an empty api_users table, create the admin from config (or with a
 * generated password); the server then writes API_URL / API_USER / API_PASS to
 * `admin.credentials_file` (mode 0600) — `./ngcp up` prints them from there.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { hashPassword, randomPassword, type Db } from '@ngcp/db';
import type { ApiConfig } from './config.js';

export interface BootstrapResult {
  created: boolean;
  login?: string;
  /** the admin's password, only when it was just created (never logged) */
  password?: string;
  generated?: boolean;
}

export function apiUrl(config: ApiConfig): string {
  if (config.admin.url) return config.admin.url;
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? '127.0.0.1' : config.listen.host;
  return `${config.tls.enabled ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
}

export async function ensureAdmin(db: Db, config: ApiConfig): Promise<BootstrapResult> {
  const any = await db('api_users').first('id');
  if (any) return { created: false };
  const login = config.admin.login;
  const password = config.admin.password ?? randomPassword();
  const hash = await hashPassword(password);
  try {
    await db('api_users').insert({ login, password_hash: hash, role: 'admin' });
  } catch (err) {
    // another instance was faster
    if ((err as { code?: string }).code === 'ER_DUP_ENTRY') return { created: false };
    throw err;
  }
  return { created: true, login, password, generated: config.admin.password === undefined };
}

/** Write API_URL/API_USER/API_PASS (mode 0600) for `./ngcp up`; call once the real URL is known. */
export function writeCredentials(file: string, url: string, login: string, password: string): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  writeFileSync(file, `API_URL=${url}\nAPI_USER=${login}\nAPI_PASS=${password}\n`, { mode: 0o600 });
}
