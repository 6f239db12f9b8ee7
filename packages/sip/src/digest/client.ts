/**
 * Stateful UAC helper for one identity, e.g. a B2BUA's outbound registration to a peer:
 * remembers the nonce per realm, counts nc (RFC 2617 §3.2.2 nonce reuse), answers every
 * challenging realm (RFC 3261 §22.3 — several proxies may each send a 407), follows
 * `stale=true` without treating it as a wrong password (RFC 2617 §3.2.1), and tells a
 * real rejection (a fresh answer challenged again) from an expired nonce.
 */
import { buildCredentials, generateCnonce, selectChallenges } from './answer.js';
import type { DigestCredentialSource, RequestInfo, SelectedChallenge } from './answer.js';
import type { DigestAlgorithm, DigestQop } from './algorithms.js';
import { DigestParseError, parseCredentials } from './parse-auth.js';
import type { DigestChallenge, DigestCredentials } from './parse-auth.js';

export type AuthorizationHeaderName = 'Authorization' | 'Proxy-Authorization';

export interface AuthorizationHeader {
  name: AuthorizationHeaderName;
  value: string;
}

export interface DigestClientOptions extends DigestCredentialSource {
  /** Client-nonce generator (tests); default 128 random bits. */
  generateCnonce?: () => string;
}

/** What the caller should do with a 401/407. */
export type ChallengeOutcome =
  | { action: 'retry'; realms: string[] }
  | {
      action: 'fail';
      /** `rejected`: credentials we sent in answer to a fresh challenge were refused. */
      reason: 'no-usable-challenge' | 'rejected';
      realm?: string;
    };

/** Per-realm state, exposed for logging / persistence. */
export interface DigestSession {
  readonly realm: string;
  readonly header: AuthorizationHeaderName;
  readonly challenge: DigestChallenge;
  readonly algorithm: DigestAlgorithm;
  readonly qop: DigestQop | undefined;
  /** Last nonce-count used with this nonce (0: not used yet). */
  readonly nc: number;
  /** Requests that carried credentials built from this nonce. */
  readonly uses: number;
}

interface MutableSession extends SelectedChallenge {
  header: AuthorizationHeaderName;
  nc: number;
  uses: number;
  cnonce: string;
}

export interface OnChallengeOptions {
  /** The challenge came in Proxy-Authenticate (407) rather than WWW-Authenticate (401). */
  proxy?: boolean;
  /**
   * The (Proxy-)Authorization values the challenged request carried. Strongly recommended
   * when several requests share this client concurrently: a non-stale challenge is a
   * rejection only if the request carried credentials for that realm with nc=1 (a fresh
   * answer). Without it, the client's own last authorize() is assumed.
   */
  sent?: readonly string[];
}

export class DigestClient {
  private readonly sessions = new Map<string, MutableSession>();
  private readonly makeCnonce: () => string;

  constructor(private readonly source: DigestClientOptions) {
    this.makeCnonce = source.generateCnonce ?? generateCnonce;
  }

  /** Feeds the challenge header values of a 401 (or 407 with `proxy: true`). */
  onChallenge(values: readonly string[], opts: OnChallengeOptions = {}): ChallengeOutcome {
    const best = new Map<string, SelectedChallenge>();
    for (const s of selectChallenges(values, this.source)) {
      if (!best.has(s.challenge.realm)) best.set(s.challenge.realm, s);
    }
    if (best.size === 0) return { action: 'fail', reason: 'no-usable-challenge' };
    const sent = opts.sent === undefined ? undefined : parseAll(opts.sent);
    for (const [realm, s] of best) {
      if (s.challenge.stale === true) continue; // same password, new nonce
      if (this.wasFreshAnswer(realm, sent)) return { action: 'fail', reason: 'rejected', realm };
    }
    const header: AuthorizationHeaderName = opts.proxy === true ? 'Proxy-Authorization' : 'Authorization';
    for (const [realm, s] of best) {
      this.sessions.set(realm, { ...s, header, nc: 0, uses: 0, cnonce: this.makeCnonce() });
    }
    return { action: 'retry', realms: [...best.keys()] };
  }

  /**
   * Headers to add to a request (the retry, or later requests preemptively reusing the
   * nonce with an incremented nc). Empty before the first challenge.
   */
  authorize(request: RequestInfo): AuthorizationHeader[] {
    const out: AuthorizationHeader[] = [];
    for (const s of this.sessions.values()) {
      s.nc += 1;
      s.uses += 1;
      const answer = buildCredentials(this.source, s, request, s.nc, s.cnonce);
      out.push({ name: s.header, value: answer.value });
    }
    return out;
  }

  /** Current per-realm state. */
  state(): DigestSession[] {
    return [...this.sessions.values()].map((s) => ({
      realm: s.challenge.realm,
      header: s.header,
      challenge: s.challenge,
      algorithm: s.algorithm,
      qop: s.qop,
      nc: s.nc,
      uses: s.uses,
    }));
  }

  /** Forgets one realm's nonce, or all (e.g. after a registration was torn down). */
  forget(realm?: string): void {
    if (realm === undefined) this.sessions.clear();
    else this.sessions.delete(realm);
  }

  private wasFreshAnswer(realm: string, sent: DigestCredentials[] | undefined): boolean {
    const session = this.sessions.get(realm);
    if (sent === undefined) return session !== undefined && session.uses === 1;
    const c = sent.find((x) => x.realm === realm && x.username === this.source.username);
    if (c === undefined) return false;
    if (c.nc !== undefined) return Number.parseInt(c.nc, 16) === 1;
    // RFC 2069 form has no nc: fresh if it was the only use of the nonce we were given.
    return session !== undefined && session.challenge.nonce === c.nonce && session.uses <= 1;
  }
}

function parseAll(values: readonly string[]): DigestCredentials[] {
  const out: DigestCredentials[] = [];
  for (const v of values) {
    try {
      out.push(parseCredentials(v));
    } catch (e) {
      if (!(e instanceof DigestParseError)) throw e;
    }
  }
  return out;
}
