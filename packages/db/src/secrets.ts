/**
 * Credentials are never stored in clear:
 * - SIP digest: HA1 = H(username ":" realm ":" password), MD5 and SHA-256 (RFC 7616 / RFC 8760),
 *   realm = the subscriber's domain, computed by @ngcp/sip's `computeHA1`. The proxy computes
 *   the response from HA1 alone.
 * - Web/API passwords: scrypt with a random salt, encoded as `scrypt$N$r$p$salt$hash` (base64url).
 * - Bearer tokens: SHA-256 of the token (they are long random strings, so no salt is needed).
 */
import { createHash, randomBytes, scrypt as scryptCb, timingSafeEqual } from 'node:crypto';
import { computeHA1 } from '@ngcp/sip';

/** Both HA1 columns of a subscriber: MD5 and SHA-256 of `${username}:${domain}:${password}` (realm = domain). */
export function subscriberHa1(username: string, domain: string, password: string): { ha1_md5: string; ha1_sha256: string } {
  return { ha1_md5: computeHA1('MD5', username, domain, password), ha1_sha256: computeHA1('SHA-256', username, domain, password) };
}

export interface ScryptParams { N: number; r: number; p: number; keylen: number }

/** N=2^14, r=8, p=1: ≈ 30–60 ms per hash, 16 MiB of memory. */
export const DEFAULT_SCRYPT: Readonly<ScryptParams> = Object.freeze({ N: 16384, r: 8, p: 1, keylen: 32 });

function scrypt(password: string, salt: Buffer, p: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scryptCb(password, salt, p.keylen, { N: p.N, r: p.r, p: p.p, maxmem: 128 * p.N * p.r * 2 }, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/** Hash a web/API password for storage. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Check a password against a stored `scrypt$…` hash (constant time on the key). Malformed hashes never match. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [, n, r, p, saltB64, keyB64] = parts as [string, string, string, string, string, string];
  const expected = Buffer.from(keyB64, 'base64url');
  const params = { N: Number(n), r: Number(r), p: Number(p), keylen: expected.length };
  if (!Number.isInteger(params.N) || !Number.isInteger(params.r) || !Number.isInteger(params.p) || expected.length < 16) return false;
  const key = await scrypt(password, Buffer.from(saltB64, 'base64url'), params);
  return timingSafeEqual(key, expected);
}

/** A new random bearer token (43 chars, 256 bits) — returned to the client once. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** What is stored for a bearer token. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** A random password for generated accounts (24 chars of base64url). */
export function randomPassword(bytes = 18): string {
  return randomBytes(bytes).toString('base64url');
}
