/** Identifiers: branch (RFC 3261 §8.1.1.7), tags (§19.3), Call-ID (§8.1.1.4). */
import { randomBytes } from 'node:crypto';
import { MAGIC_COOKIE } from './via.js';

// one random pool, refilled in blocks: cheaper than a crypto call per id
let pool = randomBytes(4096);
let off = 0;
function randomHex(bytes: number): string {
  if (off + bytes > pool.length) {
    pool = randomBytes(4096);
    off = 0;
  }
  const s = pool.toString('hex', off, off + bytes);
  off += bytes;
  return s;
}

/** A new RFC 3261 branch: magic cookie + 64 random bits. */
export function newBranch(): string {
  return MAGIC_COOKIE + randomHex(8);
}

export function newTag(): string {
  return randomHex(6);
}

export function newCallId(host?: string): string {
  return host ? `${randomHex(12)}@${host}` : randomHex(16);
}
