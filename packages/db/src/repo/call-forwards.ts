/**
 * Writing a subscriber's call forwards: the one code path of every writer (the API's
 * `/api/callforwards/:id`, the proxy's star codes). Validation, the rows, the journal row and
 * the change notification are the same whoever writes; the reader for calls is
 * `getCallForwards` (repo/routing.ts).
 *
 * The document is the API's: `{ id, cfu: {enabled, destinations}, cfb: {…}, cfna: {enabled,
 * ringtimeout, destinations}, cft: {enabled, ringtimeout, destinations} }`.
 */
import type { Knex } from 'knex';
import type { CallForwardType } from '../rows.js';
import { insertJournal, type JournalActor } from './journal.js';
import { normalizeE164 } from './subscribers.js';

/** The entity name of call forwards in the journal and on `ngcp:changes` (id = the subscriber). */
export const CALL_FORWARDS_ENTITY = 'call_forwards';

export const CALL_FORWARD_TYPES = ['cfu', 'cfb', 'cfna', 'cft'] as const satisfies readonly CallForwardType[];

export interface CallForwardDocDestination { type: 'number' | 'voicemail' | 'uri'; destination: string | null }
export interface CallForwardSet { enabled: boolean; ringtimeout?: number | null; destinations: CallForwardDocDestination[] }
export type CallForwardDoc = { id: number } & Record<CallForwardType, CallForwardSet>;
/** A field of the document (`cft/ringtimeout`, `cfu/destinations/0/destination`) and what is wrong with it. */
export interface CallForwardFieldError { field: string; message: string }
export type CallForwardCheck = { ok: true; doc: Record<CallForwardType, CallForwardSet> } | { ok: false; errors: CallForwardFieldError[] };

/** The ring timeout range the API accepts (s). */
export const CALL_FORWARD_RING_TIMEOUT = { min: 5, max: 300 } as const;
/** Destinations of one forward type at most. */
export const CALL_FORWARD_MAX_DESTINATIONS = 10;

const hasTimeout = (t: CallForwardType): boolean => t === 'cft' || t === 'cfna';

/** A forward type without destinations (what a subscriber without rows has). */
export function emptyCallForwardSet(t: CallForwardType): CallForwardSet {
  return hasTimeout(t) ? { enabled: true, ringtimeout: null, destinations: [] } : { enabled: true, destinations: [] };
}

/** The documents of these subscribers (every id gets one, empty without rows). */
export async function readCallForwardDocs(db: Knex, ids: readonly number[]): Promise<Map<number, CallForwardDoc>> {
  const docs = new Map<number, CallForwardDoc>();
  for (const id of ids) docs.set(id, { id, cfu: emptyCallForwardSet('cfu'), cfb: emptyCallForwardSet('cfb'), cfna: emptyCallForwardSet('cfna'), cft: emptyCallForwardSet('cft') });
  if (!ids.length) return docs;
  const rows: { subscriber_id: number; type: CallForwardType; destination_type: CallForwardDocDestination['type']; destination: string | null; ring_timeout: number | null; enabled: number }[] =
    await db('call_forwards').whereIn('subscriber_id', ids).orderBy(['subscriber_id', 'type', 'position']);
  for (const r of rows) {
    const set = docs.get(r.subscriber_id)![r.type];
    set.enabled = r.enabled === 1;
    if ('ringtimeout' in set) set.ringtimeout = r.ring_timeout;
    set.destinations.push({ type: r.destination_type, destination: r.destination });
  }
  return docs;
}

/**
 * Check a document (missing types are empty) and normalise it: numbers to E.164 digits. Every
 * wrong field is named: a number that is not E.164, a URI without user@host, a voicemail
 * destination with a value, a ring timeout out of range, CFT destinations without a ring timeout.
 */
export function checkCallForwards(body: Partial<Record<CallForwardType, Partial<CallForwardSet>>>): CallForwardCheck {
  const errors: CallForwardFieldError[] = [];
  const out = {} as Record<CallForwardType, CallForwardSet>;
  for (const t of CALL_FORWARD_TYPES) {
    const set = body[t] ?? emptyCallForwardSet(t);
    out[t] = { enabled: set.enabled ?? true, ...(hasTimeout(t) ? { ringtimeout: set.ringtimeout ?? null } : {}), destinations: (set.destinations ?? []).map((d) => ({ ...d })) };
    const rt = out[t].ringtimeout;
    if (rt != null && (!Number.isInteger(rt) || rt < CALL_FORWARD_RING_TIMEOUT.min || rt > CALL_FORWARD_RING_TIMEOUT.max)) {
      errors.push({ field: `${t}/ringtimeout`, message: `must be an integer from ${CALL_FORWARD_RING_TIMEOUT.min} to ${CALL_FORWARD_RING_TIMEOUT.max}` });
    }
    if (out[t].destinations.length > CALL_FORWARD_MAX_DESTINATIONS) errors.push({ field: `${t}/destinations`, message: `must have at most ${CALL_FORWARD_MAX_DESTINATIONS} items` });
    out[t].destinations.forEach((d, i) => {
      const field = `${t}/destinations/${i}/destination`;
      if (d.type === 'voicemail') {
        if (d.destination != null) errors.push({ field, message: 'must be null for voicemail' });
      } else if (d.type === 'number') {
        if (typeof d.destination !== 'string' || !/^\+?[1-9][0-9]{1,14}$/.test(d.destination)) errors.push({ field, message: 'must be an E.164 number' });
        else d.destination = normalizeE164(d.destination);
      } else if (typeof d.destination !== 'string' || !/^sips?:[^\s@]+@[^\s@]+$/.test(d.destination)) {
        errors.push({ field, message: 'must be a sip: or sips: URI with user@host' });
      }
    });
    if (t === 'cft' && out.cft.destinations.length && out.cft.ringtimeout == null) errors.push({ field: 'cft/ringtimeout', message: 'is required when cft has destinations' });
  }
  return errors.length ? { ok: false, errors } : { ok: true, doc: out };
}

/** Replace every forward of a subscriber by a checked document; returns the document as stored. */
export async function replaceCallForwards(db: Knex, subscriberId: number, doc: Record<CallForwardType, CallForwardSet>): Promise<CallForwardDoc> {
  await db('call_forwards').where('subscriber_id', subscriberId).delete();
  const rows = CALL_FORWARD_TYPES.flatMap((t) =>
    doc[t].destinations.map((d, position) => ({
      subscriber_id: subscriberId, type: t, position, destination_type: d.type, destination: d.destination ?? null,
      ring_timeout: doc[t].ringtimeout ?? null, enabled: doc[t].enabled,
    })),
  );
  if (rows.length) await db('call_forwards').insert(rows);
  return (await readCallForwardDocs(db, [subscriberId])).get(subscriberId)!;
}

/** Remove every forward of a subscriber. */
export async function removeCallForwards(db: Knex, subscriberId: number): Promise<void> {
  await db('call_forwards').where('subscriber_id', subscriberId).delete();
}

/**
 * Change some forward types of a subscriber and keep the others, the way `PUT
 * /api/callforwards/:id` with the current document changed in those types would: in one
 * transaction the document is read, each changed type is replaced by `change[type](current)`,
 * the whole is checked (`checkCallForwards`), written (`replaceCallForwards`) and journalled
 * (`insertJournal`, entity `call_forwards`, op `update`). The caller publishes the change
 * (`publishChange`) after the commit, as the API does.
 */
export async function updateCallForwards(
  db: Knex, subscriberId: number, change: Partial<Record<CallForwardType, (current: CallForwardSet) => CallForwardSet>>, actor: JournalActor,
): Promise<CallForwardCheck & { stored?: CallForwardDoc }> {
  return db.transaction(async (trx) => {
    const current = (await readCallForwardDocs(trx, [subscriberId])).get(subscriberId)!;
    const body: Partial<Record<CallForwardType, CallForwardSet>> = {};
    for (const t of CALL_FORWARD_TYPES) body[t] = change[t] ? change[t](current[t]) : current[t];
    const checked = checkCallForwards(body);
    if (!checked.ok) return checked;
    const stored = await replaceCallForwards(trx, subscriberId, checked.doc);
    await insertJournal(trx, actor, { entity: CALL_FORWARDS_ENTITY, entityId: subscriberId, op: 'update', content: stored });
    return { ...checked, stored };
  });
}
