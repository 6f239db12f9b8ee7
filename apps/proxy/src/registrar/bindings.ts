/**
 * The registrar's decision (RFC 3261 §10.3 steps 6–8, RFC 5626 §6 instance/reg-id), as a
 * pure function: the bindings stored for an AoR and one REGISTER in, the changes to make
 * and the bindings to report out. No I/O; location-store.ts applies the result to Redis.
 */
import type { LocationBinding } from '@ngcp/db';

export interface RegisterContact {
  /** the contact URI as written (without < >) */
  uri: string;
  /** the contact's `expires` parameter */
  expires?: number;
  q?: number;
  /** `+sip.instance` */
  instance?: string;
  /** `reg-id` */
  regId?: number;
}

export interface RegisterInput {
  /** seconds since the epoch */
  now: number;
  /** '*' or the contacts; [] for a fetch of the current bindings */
  contacts: '*' | RegisterContact[];
  /** the Expires header (delta seconds) */
  expiresHeader?: number;
  callId: string;
  cseq: number;
  userAgent?: string;
  path?: string[];
  received?: string;
  socket?: string;
}

export interface RegistrarLimits {
  minExpires: number;
  maxExpires: number;
  defaultExpires: number;
  maxContacts: number;
}

export type RegisterDecision =
  | { kind: 'reject'; status: number; reason?: string; minExpires?: number }
  | {
      kind: 'ok';
      /** bindings to write (field = contact) */
      set: LocationBinding[];
      /** fields to delete */
      remove: string[];
      /** the AoR's bindings afterwards, highest q first */
      bindings: LocationBinding[];
      /** absolute expiry of the key (latest binding); undefined: no binding left, delete the key */
      keyExpiresAt?: number;
    };

/** Bindings that have not expired at `now`, highest q first, then the most recently updated. */
export function liveBindings(stored: readonly LocationBinding[], now: number): LocationBinding[] {
  return stored
    .filter((b) => typeof b.expires === 'number' && b.expires > now)
    .sort((a, b) => (b.q ?? 1) - (a.q ?? 1) || (b.updated ?? 0) - (a.updated ?? 0));
}

export function decideRegister(stored: readonly LocationBinding[], req: RegisterInput, limits: RegistrarLimits): RegisterDecision {
  const now = req.now;
  const byContact = new Map<string, LocationBinding>();
  const remove = new Set<string>();
  for (const b of stored) {
    if (typeof b.expires !== 'number' || b.expires <= now) remove.add(b.contact);
    else byContact.set(b.contact, b);
  }

  if (req.contacts === '*') {
    // §10.3 step 6: '*' only with Expires: 0 (and as the only Contact; the parser enforces that)
    if (req.expiresHeader !== 0) return { kind: 'reject', status: 400, reason: 'Wildcard Contact Needs Expires 0' };
    for (const c of byContact.keys()) remove.add(c);
    return { kind: 'ok', set: [], remove: [...remove], bindings: [] };
  }

  const set: LocationBinding[] = [];
  for (const c of req.contacts) {
    let expires = c.expires ?? req.expiresHeader ?? limits.defaultExpires;
    // RFC 3261 §10.3 step 7 / §10.2.8: too brief → 423 with Min-Expires
    if (expires > 0 && expires < limits.minExpires) return { kind: 'reject', status: 423, minExpires: limits.minExpires };
    expires = Math.min(expires, limits.maxExpires);
    const old = byContact.get(c.uri);
    if (old && old.call_id === req.callId && typeof old.cseq === 'number' && old.cseq >= req.cseq) {
      // §10.3 step 7: an older or repeated request of the same registration must not win
      return { kind: 'reject', status: 500, reason: 'Out Of Order Request' };
    }
    if (c.instance !== undefined) {
      // RFC 5626 §6: the same instance (and reg-id) replaces its previous contact
      for (const [uri, b] of byContact) {
        if (uri !== c.uri && b.instance === c.instance && (b.reg_id ?? null) === (c.regId ?? null)) {
          byContact.delete(uri);
          remove.add(uri);
        }
      }
    }
    if (expires === 0) {
      if (byContact.delete(c.uri)) remove.add(c.uri);
      continue;
    }
    const b: LocationBinding = { contact: c.uri, expires: now + expires, q: c.q ?? 1, call_id: req.callId, cseq: req.cseq, updated: now };
    if (req.userAgent !== undefined) b.user_agent = req.userAgent;
    if (req.received !== undefined) b.received = req.received;
    if (req.path !== undefined && req.path.length > 0) b.path = req.path;
    if (req.socket !== undefined) b.socket = req.socket;
    if (c.instance !== undefined) b.instance = c.instance;
    if (c.regId !== undefined) b.reg_id = c.regId;
    byContact.set(c.uri, b);
    remove.delete(c.uri);
    set.push(b);
  }
  if (byContact.size > limits.maxContacts) return { kind: 'reject', status: 403, reason: 'Too Many Contacts' };
  const bindings = liveBindings([...byContact.values()], now);
  const decision: RegisterDecision = { kind: 'ok', set, remove: [...remove], bindings };
  if (bindings.length > 0) decision.keyExpiresAt = Math.max(...bindings.map((b) => b.expires));
  return decision;
}

/** The Contact values of the 200 OK: every current binding with the seconds it has left (§10.3 step 8). */
export function contactHeaderValues(bindings: readonly LocationBinding[], now: number): string[] {
  return bindings.map((b) => {
    const q = b.q !== undefined && b.q !== 1 ? `;q=${b.q}` : '';
    return `<${b.contact}>;expires=${Math.max(0, Math.round(b.expires - now))}${q}`;
  });
}
