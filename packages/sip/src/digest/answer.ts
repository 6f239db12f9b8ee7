/**
 * Client (UAC) side, stateless part: choose a challenge and compute the credentials.
 * RFC 3261 §22.2–§22.4, RFC 2617 §3.2.2, RFC 7616 §3.4 and §3.7, RFC 8760 §2.4.
 */
import { randomBytes } from 'node:crypto';
import {
  algorithmHash,
  algorithmStrength,
  computeHA1,
  computeResponse,
  DIGEST_ALGORITHMS,
  formatNonceCount,
  hashBody,
  isAlgorithmSupported,
  isSessionAlgorithm,
  parseAlgorithm,
} from './algorithms.js';
import type { DigestAlgorithm, DigestHash, DigestQop } from './algorithms.js';
import { DigestParseError, formatCredentials, parseChallenge } from './parse-auth.js';
import type { DigestChallenge } from './parse-auth.js';

/** Who we are. Give a password, or HA1 values precomputed for `realm`. */
export interface DigestCredentialSource {
  username: string;
  password?: string | undefined;
  /** HA1 = H(username:realm:password) per hash family; only valid for one realm, so set `realm`. */
  ha1ByAlgorithm?: Partial<Record<DigestHash, string>> | undefined;
  /** Only answer challenges for this realm. */
  realm?: string | undefined;
  /** Algorithms we are willing to use; default all (weakest allowed: MD5). */
  algorithms?: readonly DigestAlgorithm[] | undefined;
}

/** A challenge we can answer, with what we will answer it with. */
export interface SelectedChallenge {
  challenge: DigestChallenge;
  algorithm: DigestAlgorithm;
  /** undefined → RFC 2069 form (the challenge offered no qop). */
  qop: DigestQop | undefined;
}

function parseSafe(c: string | DigestChallenge): DigestChallenge | undefined {
  if (typeof c !== 'string') return c;
  try {
    return parseChallenge(c);
  } catch (e) {
    if (e instanceof DigestParseError) return undefined;
    throw e;
  }
}

/** qop we use: auth if offered, else auth-int, else none; null if only unknown qops offered. */
function chooseQop(offered: readonly string[] | undefined): DigestQop | undefined | null {
  if (offered === undefined) return undefined;
  const lower = offered.map((q) => q.toLowerCase());
  if (lower.includes('auth')) return 'auth';
  if (lower.includes('auth-int')) return 'auth-int';
  return null;
}

/**
 * Every usable challenge, best first: strongest hash (SHA-512-256 > SHA-256 > MD5,
 * RFC 7616 §3.7), then the server's order. Unparseable, non-Digest, unknown-algorithm
 * and wrong-realm challenges are skipped, as are those we hold no secret for.
 */
export function selectChallenges(
  challenges: readonly (string | DigestChallenge)[],
  source: DigestCredentialSource,
): SelectedChallenge[] {
  const allowed = source.algorithms ?? DIGEST_ALGORITHMS;
  const out: SelectedChallenge[] = [];
  for (const raw of challenges) {
    const challenge = parseSafe(raw);
    if (challenge === undefined) continue;
    if (source.realm !== undefined && challenge.realm !== source.realm) continue;
    const algorithm = parseAlgorithm(challenge.algorithm);
    if (algorithm === undefined || !allowed.includes(algorithm) || !isAlgorithmSupported(algorithm)) continue;
    const qop = chooseQop(challenge.qop);
    if (qop === null || (qop === undefined && isSessionAlgorithm(algorithm))) continue;
    if (source.password === undefined && source.ha1ByAlgorithm?.[algorithmHash(algorithm)] === undefined) continue;
    out.push({ challenge, algorithm, qop });
  }
  // Array.prototype.sort is stable: equal strength keeps the server's order.
  return out.sort((a, b) => algorithmStrength(b.algorithm) - algorithmStrength(a.algorithm));
}

/** A fresh client nonce: 128 random bits, hex. */
export function generateCnonce(): string {
  return randomBytes(16).toString('hex');
}

export interface RequestInfo {
  method: string;
  /** Request-URI of the request that will carry the credentials (the digest-uri). */
  uri: string;
  /** Message body, used only for qop=auth-int. */
  body?: string | Uint8Array | undefined;
}

export interface DigestAnswer extends SelectedChallenge {
  /** The Authorization / Proxy-Authorization header value. */
  value: string;
  /** nonce-count used (undefined without qop). */
  nc: number | undefined;
  cnonce: string | undefined;
}

/** Computes the credentials for one selected challenge, with the given nonce-count. */
export function buildCredentials(
  source: DigestCredentialSource,
  selected: SelectedChallenge,
  request: RequestInfo,
  nc: number,
  cnonce: string = generateCnonce(),
): DigestAnswer {
  const { challenge, algorithm, qop } = selected;
  const ha1 =
    source.ha1ByAlgorithm?.[algorithmHash(algorithm)] ??
    computeHA1(algorithm, source.username, challenge.realm, source.password ?? '');
  const ncText = qop === undefined ? undefined : formatNonceCount(nc);
  const cn = qop === undefined ? undefined : cnonce;
  const response = computeResponse({
    algorithm,
    ha1,
    nonce: challenge.nonce,
    method: request.method,
    uri: request.uri,
    qop,
    nc: ncText,
    cnonce: cn,
    bodyHash: qop === 'auth-int' ? hashBody(algorithm, request.body) : undefined,
  });
  const value = formatCredentials({
    username: source.username,
    realm: challenge.realm,
    nonce: challenge.nonce,
    uri: request.uri,
    response,
    // Echo the algorithm when the server named it (canonical spelling); absent means MD5.
    algorithm: challenge.algorithm === undefined ? undefined : algorithm,
    cnonce: cn,
    opaque: challenge.opaque, // RFC 2617 §3.2.2: MUST be returned unchanged
    qop,
    nc: ncText,
  });
  return { ...selected, value, nc: qop === undefined ? undefined : nc, cnonce: cn };
}

export interface AnswerChallengeParams extends DigestCredentialSource, RequestInfo {
  /** WWW-Authenticate / Proxy-Authenticate values (or parsed challenges) of one response. */
  challenges: readonly (string | DigestChallenge)[];
  /** Client nonce; default 128 random bits. */
  cnonce?: string | undefined;
  /** nonce → last nc used with it, updated in place (reusing a nonce increments nc). Without it nc = 1. */
  nonceCounts?: Map<string, number> | undefined;
}

/**
 * Answers the best challenge (see {@link selectChallenges}); undefined if none is usable.
 * For responses that challenge several realms, call once per realm with `realm` set, or
 * use {@link DigestClient}.
 */
export function answerChallenge(p: AnswerChallengeParams): DigestAnswer | undefined {
  const best = selectChallenges(p.challenges, p)[0];
  if (best === undefined) return undefined;
  let nc = 1;
  if (best.qop !== undefined && p.nonceCounts !== undefined) {
    nc = (p.nonceCounts.get(best.challenge.nonce) ?? 0) + 1;
    p.nonceCounts.set(best.challenge.nonce, nc);
  }
  return buildCredentials(p, best, p, nc, p.cnonce);
}
