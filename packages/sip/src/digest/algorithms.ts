/**
 * Digest hash algorithms and the response computation.
 *
 * - RFC 2617 §3.2.2 (MD5, MD5-sess, qop auth / auth-int, and the RFC 2069 no-qop form)
 * - RFC 7616 §3.4   (SHA-256, SHA-512-256 and their -sess variants; same formulas)
 * - RFC 8760 §2     (these algorithms in SIP, replacing RFC 3261 §22.4's MD5-only rule)
 *
 * Every hash value is lower-case hex (RFC 7616 §3.4: "the hexadecimal representation").
 * Strings are hashed as UTF-8.
 */
import { createHash, getHashes } from 'node:crypto';

/** The underlying hash function of a Digest algorithm. */
export type DigestHash = 'MD5' | 'SHA-256' | 'SHA-512-256';
/** A Digest `algorithm` value (RFC 7616 §3.3, RFC 8760 §2.1), in canonical spelling. */
export type DigestAlgorithm = DigestHash | `${DigestHash}-sess`;
/** A quality-of-protection value (RFC 2617 §3.2.1). */
export type DigestQop = 'auth' | 'auth-int';

/** Every algorithm this module implements, strongest first (RFC 8760 §2.4 ordering). */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = [
  'SHA-512-256',
  'SHA-512-256-sess',
  'SHA-256',
  'SHA-256-sess',
  'MD5',
  'MD5-sess',
];

const NODE_HASH: Record<DigestHash, string> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
};

const HEX_LENGTH: Record<DigestHash, number> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 };

const STRENGTH: Record<DigestHash, number> = { MD5: 1, 'SHA-256': 2, 'SHA-512-256': 3 };

const BY_LOWER = new Map<string, DigestAlgorithm>(DIGEST_ALGORITHMS.map((a) => [a.toLowerCase(), a]));

/**
 * Canonical algorithm for an `algorithm` parameter value (case-insensitive, RFC 7616 §3.3).
 * An absent parameter means MD5 (RFC 2617 §3.2.1, RFC 3261 §25.1). Unknown → undefined.
 */
export function parseAlgorithm(raw: string | undefined): DigestAlgorithm | undefined {
  if (raw === undefined) return 'MD5';
  return BY_LOWER.get(raw.trim().toLowerCase());
}

/** The hash function behind an algorithm (`SHA-256-sess` → `SHA-256`). */
export function algorithmHash(algorithm: DigestAlgorithm): DigestHash {
  return (algorithm.endsWith('-sess') ? algorithm.slice(0, -5) : algorithm) as DigestHash;
}

export function isSessionAlgorithm(algorithm: DigestAlgorithm): boolean {
  return algorithm.endsWith('-sess');
}

/** Relative strength used to pick among offered challenges: SHA-512-256 > SHA-256 > MD5. */
export function algorithmStrength(algorithm: DigestAlgorithm): number {
  return STRENGTH[algorithmHash(algorithm)];
}

/** Length of a hex digest (HA1, response) for the algorithm: 32 for MD5, 64 for the SHA-2s. */
export function digestHexLength(algorithm: DigestAlgorithm): number {
  return HEX_LENGTH[algorithmHash(algorithm)];
}

let available: Set<string> | undefined;
/** Whether node:crypto (i.e. the linked OpenSSL) provides the hash, e.g. not SHA-512/256 in some FIPS builds. */
export function isAlgorithmSupported(algorithm: DigestAlgorithm): boolean {
  available ??= new Set(getHashes().map((h) => h.toLowerCase()));
  return available.has(NODE_HASH[algorithmHash(algorithm)]);
}

/** H(data) as lower-case hex, with the algorithm's hash function. */
export function digestHash(algorithm: DigestAlgorithm, data: string | Uint8Array): string {
  return createHash(NODE_HASH[algorithmHash(algorithm)]).update(data).digest('hex');
}

/**
 * HA1 = H(username ":" realm ":" password) (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2).
 * This is the value a provisioning database stores instead of the password; it is the
 * same for `X` and `X-sess` — the session step is applied by {@link computeResponse}.
 */
export function computeHA1(
  algorithm: DigestAlgorithm,
  username: string,
  realm: string,
  password: string,
): string {
  return digestHash(algorithm, `${username}:${realm}:${password}`);
}

/** -sess variants: HA1' = H(HA1 ":" nonce ":" cnonce) (RFC 2617 §3.2.2.2, RFC 7616 §3.4.2). */
export function computeSessionHA1(
  algorithm: DigestAlgorithm,
  ha1: string,
  nonce: string,
  cnonce: string,
): string {
  return digestHash(algorithm, `${ha1.toLowerCase()}:${nonce}:${cnonce}`);
}

/** H(entity-body) for qop=auth-int (RFC 2617 §3.2.2.3). An absent body hashes as "". */
export function hashBody(algorithm: DigestAlgorithm, body: string | Uint8Array = ''): string {
  return digestHash(algorithm, body);
}

export interface ResponseParams {
  algorithm: DigestAlgorithm;
  /** The stored HA1, H(username:realm:password) — NOT the -sess one; see {@link computeHA1}. */
  ha1: string;
  nonce: string;
  /** SIP method of the request (RFC 3261 §22.4: A2 uses the request's method). */
  method: string;
  /** The digest-uri (`uri` parameter), i.e. the Request-URI as sent. */
  uri: string;
  /** Absent (or undefined) → RFC 2069 form without qop/nc/cnonce. */
  qop?: DigestQop | undefined;
  /** nonce-count as the 8-hex-digit string sent on the wire, or a number (formatted for you). */
  nc?: string | number | undefined;
  cnonce?: string | undefined;
  /** H(entity-body), required when qop is auth-int (see {@link hashBody}). */
  bodyHash?: string | undefined;
}

/** The 8LHEX nonce-count (RFC 2617 §3.2.2: `nc-value = 8LHEX`). */
export function formatNonceCount(nc: number): string {
  if (!Number.isInteger(nc) || nc < 0 || nc > 0xffffffff) throw new RangeError(`nonce-count out of range: ${nc}`);
  return nc.toString(16).padStart(8, '0');
}

/**
 * request-digest (RFC 2617 §3.2.2.1, RFC 7616 §3.4.1):
 *   qop present: KD(HA1, nonce ":" nc ":" cnonce ":" qop ":" HA2)
 *   qop absent:  KD(HA1, nonce ":" HA2)                      (RFC 2069 compatibility)
 * with KD(secret, data) = H(secret ":" data), HA2 = H(method ":" uri) for auth and
 * H(method ":" uri ":" H(entity-body)) for auth-int.
 * Throws TypeError for inconsistent input (programming error, not bad peer data).
 */
export function computeResponse(p: ResponseParams): string {
  const { algorithm } = p;
  let ha2Input = `${p.method}:${p.uri}`;
  if (p.qop === 'auth-int') {
    if (p.bodyHash === undefined) throw new TypeError('qop=auth-int needs bodyHash');
    ha2Input += `:${p.bodyHash.toLowerCase()}`;
  }
  const ha2 = digestHash(algorithm, ha2Input);
  let ha1 = p.ha1.toLowerCase();
  if (isSessionAlgorithm(algorithm)) {
    if (p.cnonce === undefined) throw new TypeError(`${algorithm} needs a cnonce (and so a qop)`);
    ha1 = computeSessionHA1(algorithm, ha1, p.nonce, p.cnonce);
  }
  if (p.qop === undefined) return digestHash(algorithm, `${ha1}:${p.nonce}:${ha2}`);
  if (p.nc === undefined || p.cnonce === undefined) throw new TypeError('qop needs nc and cnonce');
  const nc = typeof p.nc === 'number' ? formatNonceCount(p.nc) : p.nc;
  return digestHash(algorithm, `${ha1}:${p.nonce}:${nc}:${p.cnonce}:${p.qop}:${ha2}`);
}
