/**
 * Stateless server nonces (RFC 7616 §3.3 / RFC 2617 §3.2.1 leave the nonce format to the
 * server and suggest "time-stamp H(time-stamp ":" ETag ":" secret-data)").
 *
 *   nonce = base64url( issued-at (8 bytes, ms since epoch, big-endian)
 *                    || random (12 bytes)
 *                    || HMAC-SHA-256(secret, "sip-digest-nonce\0" realm "\0" issued-at random)[0..16) )
 *
 * Any node holding the secret can verify a nonce issued by any other (two-node HA pair:
 * the standby accepts the active's nonces). Several secrets may be configured for key
 * rotation: the first signs, all verify. The realm is bound in so a nonce issued for one
 * realm is useless for another that shares the secret.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export type NonceSecret = string | Uint8Array;

const TS_LEN = 8;
const RAND_LEN = 12;
const TAG_LEN = 16;
const RAW_LEN = TS_LEN + RAND_LEN + TAG_LEN;
/** Length of an encoded nonce: 36 bytes → 48 base64url characters. */
export const NONCE_LENGTH = (RAW_LEN / 3) * 4;

function tag(secret: NonceSecret, realm: string, body: Uint8Array): Buffer {
  return createHmac('sha256', secret)
    .update(`sip-digest-nonce\0${realm}\0`)
    .update(body)
    .digest()
    .subarray(0, TAG_LEN);
}

/** Normalises and checks the configured secret(s). Throws TypeError if one is empty. */
export function normalizeSecrets(secret: NonceSecret | readonly NonceSecret[]): NonceSecret[] {
  const list = Array.isArray(secret) ? [...(secret as readonly NonceSecret[])] : [secret as NonceSecret];
  if (list.length === 0 || list.some((s) => s.length === 0)) throw new TypeError('nonce secret must not be empty');
  return list;
}

/** Issues a nonce stamped with `nowMs`. */
export function createNonce(secret: NonceSecret, realm: string, nowMs: number): string {
  const body = Buffer.alloc(TS_LEN + RAND_LEN);
  body.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(nowMs))), 0);
  randomBytes(RAND_LEN).copy(body, TS_LEN);
  return Buffer.concat([body, tag(secret, realm, body)]).toString('base64url');
}

export type NonceCheck = { valid: false } | { valid: true; issuedAt: number };

/**
 * Checks that `nonce` was issued by a holder of one of `secrets` for `realm`.
 * Says nothing about age: compare `issuedAt` with the clock yourself.
 */
export function verifyNonce(secrets: readonly NonceSecret[], realm: string, nonce: string): NonceCheck {
  if (nonce.length !== NONCE_LENGTH || !/^[A-Za-z0-9_-]+$/.test(nonce)) return { valid: false };
  const raw = Buffer.from(nonce, 'base64url');
  // Reject non-canonical encodings (different trailing bits decoding to the same bytes).
  if (raw.length !== RAW_LEN || raw.toString('base64url') !== nonce) return { valid: false };
  const body = raw.subarray(0, TS_LEN + RAND_LEN);
  const received = raw.subarray(TS_LEN + RAND_LEN);
  let ok = false;
  for (const s of secrets) ok = timingSafeEqual(tag(s, realm, body), received) || ok;
  if (!ok) return { valid: false };
  return { valid: true, issuedAt: Number(raw.readBigUInt64BE(0)) };
}
