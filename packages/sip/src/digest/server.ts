/**
 * Server (UAS / registrar / proxy) side of SIP Digest: RFC 3261 §22.1–§22.4, RFC 2617
 * §3.2/§3.3, RFC 7616, RFC 8760. Issues stateless nonces, verifies credentials against the
 * stored HA1 (never a password), and reports a typed verdict.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  algorithmHash,
  computeResponse,
  digestHexLength,
  hashBody,
  isAlgorithmSupported,
  isSessionAlgorithm,
  parseAlgorithm,
} from './algorithms.js';
import type { DigestAlgorithm, DigestHash, DigestQop } from './algorithms.js';
import { createNonce, normalizeSecrets, verifyNonce } from './nonce.js';
import type { NonceSecret } from './nonce.js';
import type { NonceCountStore } from './nonce-count-store.js';
import { DigestParseError, formatChallenge, parseCredentials } from './parse-auth.js';
import type { DigestCredentials } from './parse-auth.js';

export interface DigestServerOptions {
  realm: string;
  /** HMAC key for nonces, shared by every node that must accept them; a list rotates keys (first signs). */
  secret: NonceSecret | readonly NonceSecret[];
  /** Nonce lifetime; an older nonce with a correct response yields `stale`. Default 300. */
  nonceTtlSeconds?: number;
  /** Tolerated clock difference between nodes for nonces "from the future". Default 30. */
  clockSkewSeconds?: number;
  /** Challenged algorithms, one header each, emitted in this order (most preferred first). Default ['SHA-256', 'MD5']. */
  algorithms?: readonly DigestAlgorithm[];
  /** qop offered; an empty list issues RFC 2069 style challenges. Default 'auth'. */
  qop?: DigestQop | readonly DigestQop[];
  /** Accept responses without qop although qop was offered (RFC 2069 clients). Default false. */
  acceptNoQop?: boolean;
  /** Optional nc replay protection; see {@link NonceCountStore} for the multi-node trade-off. */
  nonceCountStore?: NonceCountStore;
  /**
   * How to compare the credentials' `uri` with the Request-URI (RFC 3261 §22.4: SHOULD
   * match). 'exact' (default) compares strings; 'off' skips the check.
   */
  uriCheck?: 'exact' | 'off' | ((credentialsUri: string, requestUri: string) => boolean);
  /** Clock in milliseconds since the epoch. Default Date.now. */
  now?: () => number;
}

export type GetHA1 = (
  username: string,
  realm: string,
  /** Hash family the HA1 must be computed with (same for X and X-sess). */
  algorithm: DigestHash,
) => string | undefined | null | Promise<string | undefined | null>;

export interface VerifyParams {
  method: string;
  /** The Request-URI of the request being authenticated. */
  uri: string;
  /**
   * The Authorization (or Proxy-Authorization) value(s); with several, the one for this
   * server's realm is used (RFC 3261 §22.3). Absent/empty → `missing`.
   */
  credentials: string | DigestCredentials | readonly (string | DigestCredentials)[] | undefined | null;
  /** Looks up the stored HA1; undefined/null → `unknown-user`. Exceptions propagate. */
  getHA1: GetHA1;
  /** Message body, needed only when the client uses qop=auth-int. Default empty. */
  body?: string | Uint8Array;
}

export type DigestFailureReason =
  | 'missing'
  | 'malformed'
  | 'unknown-user'
  | 'wrong-realm'
  | 'bad-nonce'
  | 'stale'
  | 'bad-response'
  | 'replay'
  | 'algorithm'
  | 'uri-mismatch'
  | 'qop';

export type DigestVerifyResult =
  | { ok: true; username: string; realm: string; algorithm: DigestAlgorithm; qop: DigestQop | undefined }
  | {
      ok: false;
      reason: DigestFailureReason;
      /** True only for `stale`: re-challenge with `challenge({ stale: true })`. */
      stale: boolean;
      /** The claimed username when the credentials could be read (for logging only). */
      username?: string;
    };

const fail = (reason: DigestFailureReason, username?: string): DigestVerifyResult =>
  username === undefined ? { ok: false, reason, stale: reason === 'stale' } : { ok: false, reason, stale: reason === 'stale', username };

export class DigestServer {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly qop: readonly DigestQop[];
  private readonly secrets: NonceSecret[];
  private readonly ttlMs: number;
  private readonly skewMs: number;
  private readonly now: () => number;

  constructor(private readonly options: DigestServerOptions) {
    this.realm = options.realm;
    this.secrets = normalizeSecrets(options.secret);
    this.ttlMs = (options.nonceTtlSeconds ?? 300) * 1000;
    this.skewMs = (options.clockSkewSeconds ?? 30) * 1000;
    this.now = options.now ?? Date.now;
    const algs = options.algorithms ?? ['SHA-256', 'MD5'];
    if (algs.length === 0) throw new TypeError('DigestServer needs at least one algorithm');
    for (const a of algs) {
      if (parseAlgorithm(a) !== a || !isAlgorithmSupported(a)) throw new TypeError(`unsupported algorithm ${a}`);
    }
    // In the order given: the server's preference (RFC 8760 §2.4). Many UAs answer only the
    // first challenge they see, so an operator may have to put MD5 first for them.
    this.algorithms = [...new Set(algs)];
    const qop = options.qop ?? 'auth';
    this.qop = typeof qop === 'string' ? [qop] : [...qop];
    if (this.qop.length === 0 && this.algorithms.some(isSessionAlgorithm)) {
      throw new TypeError('-sess algorithms need a qop (the cnonce comes with it)');
    }
  }

  /** Issues a fresh nonce (exposed for callers building their own headers). */
  createNonce(): string {
    return createNonce(this.secrets[0]!, this.realm, this.now());
  }

  /**
   * Header values for a 401 WWW-Authenticate / 407 Proxy-Authenticate, one per offered
   * algorithm, strongest first (RFC 8760 §2.4). Set `stale` after a `stale` verdict.
   */
  challenge(opts: { stale?: boolean } = {}): string[] {
    return this.algorithms.map((algorithm) =>
      formatChallenge({
        realm: this.realm,
        nonce: this.createNonce(),
        stale: opts.stale === true ? true : undefined,
        algorithm,
        qop: this.qop.length > 0 ? [...this.qop] : undefined,
      }),
    );
  }

  /** Verifies credentials; see {@link DigestVerifyResult}. Rejects only if getHA1 or the store throw. */
  async verify(p: VerifyParams): Promise<DigestVerifyResult> {
    const picked = this.pick(p.credentials);
    if ('failure' in picked) return picked.failure;
    const c = picked.creds;
    const user = c.username;

    const algorithm = parseAlgorithm(c.algorithm);
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) return fail('algorithm', user);

    // qop (RFC 2617 §3.2.2): must be one we offered; absent only for RFC 2069 clients.
    let qop: DigestQop | undefined;
    let nc: number | undefined;
    if (c.qop === undefined) {
      if ((this.qop.length > 0 && this.options.acceptNoQop !== true) || isSessionAlgorithm(algorithm)) {
        return fail('qop', user);
      }
    } else {
      const q = c.qop.toLowerCase();
      if (q !== 'auth' && q !== 'auth-int') return fail('qop', user);
      if (this.qop.length > 0 && !this.qop.includes(q)) return fail('qop', user);
      qop = q;
      // RFC 2617 §3.2.2: with qop, cnonce and an 8LHEX nc are mandatory.
      if (c.cnonce === undefined || c.nc === undefined || !/^[0-9a-fA-F]{8}$/.test(c.nc)) return fail('malformed', user);
      nc = Number.parseInt(c.nc, 16);
    }

    const nonce = verifyNonce(this.secrets, this.realm, c.nonce);
    if (!nonce.valid) return fail('bad-nonce', user);

    if (!this.uriMatches(c.uri, p.uri)) return fail('uri-mismatch', user);

    const stored = await p.getHA1(user, c.realm, algorithmHash(algorithm));
    if (stored === undefined || stored === null) return fail('unknown-user', user);
    const ha1 = stored.toLowerCase();
    if (ha1.length !== digestHexLength(algorithm) || !/^[0-9a-f]+$/.test(ha1)) {
      throw new TypeError(`getHA1 returned a malformed ${algorithmHash(algorithm)} HA1 for ${user}`);
    }

    const expected = computeResponse({
      algorithm,
      ha1,
      nonce: c.nonce,
      method: p.method,
      uri: c.uri, // the digest-uri as sent is what the client hashed (RFC 2617 §3.2.2.5)
      qop,
      nc: c.nc,
      cnonce: c.cnonce,
      bodyHash: qop === 'auth-int' ? hashBody(algorithm, p.body) : undefined,
    });
    if (!hexEqual(expected, c.response)) return fail('bad-response', user);

    // Only now, with a correct response, is "stale" meaningful (RFC 2617 §3.2.1 stale).
    const age = this.now() - nonce.issuedAt;
    if (age > this.ttlMs || age < -this.skewMs) return fail('stale', user);

    if (nc !== undefined && this.options.nonceCountStore !== undefined) {
      if (!(await this.options.nonceCountStore.checkAndSet(c.nonce, nc))) return fail('replay', user);
    }
    return { ok: true, username: user, realm: c.realm, algorithm, qop };
  }

  /** Chooses the credentials for our realm; returns them or the failure to report. */
  private pick(input: VerifyParams['credentials']): { creds: DigestCredentials } | { failure: DigestVerifyResult } {
    const list = input === undefined || input === null ? [] : typeof input === 'string' || !Array.isArray(input) ? [input] : input;
    let malformed = false;
    let other: DigestCredentials | undefined;
    for (const item of list as readonly (string | DigestCredentials)[]) {
      let c: DigestCredentials;
      try {
        c = typeof item === 'string' ? parseCredentials(item) : item;
      } catch (e) {
        if (!(e instanceof DigestParseError)) throw e;
        malformed = true;
        continue;
      }
      if (c.realm === this.realm) return { creds: c };
      other ??= c;
    }
    if (other !== undefined) return { failure: fail('wrong-realm', other.username) };
    return { failure: fail(malformed ? 'malformed' : 'missing') };
  }

  private uriMatches(credentialsUri: string, requestUri: string): boolean {
    const check = this.options.uriCheck ?? 'exact';
    if (check === 'off') return true;
    if (check === 'exact') return credentialsUri === requestUri;
    return check(credentialsUri, requestUri);
  }
}

/** Constant-time comparison of hex digests (case-insensitive). Length is not secret. */
function hexEqual(expected: string, received: string): boolean {
  const a = Buffer.from(expected, 'utf8');
  const b = Buffer.from(received.toLowerCase(), 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}
