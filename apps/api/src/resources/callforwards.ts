/**
 * /api/callforwards/:subscriber_id — the subscriber's call forwards as one document:
 * `{ id, cfu: {enabled, destinations}, cfb: {…}, cfna: {enabled, ringtimeout, destinations},
 * cft: {enabled, ringtimeout, destinations} }`. A destination is a number (E.164), a SIP
 * URI, or the subscriber's voicemail. DELETE removes every forward.
 */
import { normalizeE164 } from '@ngcp/db';
import { validationError, type FieldError } from '../errors.js';
import { ID, nullable, object } from '../http/schemas.js';
import { ROLES, type Ctx, type Item, type Page, type Resource } from './resource.js';
import { scopeSubscriberColumn } from './scope.js';

const TYPES = ['cfu', 'cfb', 'cfna', 'cft'] as const;
type CfType = (typeof TYPES)[number];

interface Destination { type: 'number' | 'voicemail' | 'uri'; destination: string | null }
interface CfSet { enabled: boolean; ringtimeout?: number | null; destinations: Destination[] }
export type CallForwardDoc = Item & { id: number } & Record<CfType, CfSet>;

const DESTINATION = object(
  { type: { type: 'string', enum: ['number', 'voicemail', 'uri'] }, destination: nullable({ type: 'string', maxLength: 255 }) },
  ['type'],
);
const setSchema = (withTimeout: boolean) =>
  object(
    {
      enabled: { type: 'boolean', default: true },
      ...(withTimeout ? { ringtimeout: nullable({ type: 'integer', minimum: 5, maximum: 300, description: 'seconds of ringing before the forward applies' }) } : {}),
      destinations: { type: 'array', items: DESTINATION, maxItems: 10, default: [] },
    },
    [],
  );
const SETS = { cfu: setSchema(false), cfb: setSchema(false), cfna: setSchema(true), cft: setSchema(true) };
const BODY = object(SETS, []);
const ITEM = object({ id: ID, ...SETS }, ['id', ...TYPES]);

const empty = (t: CfType): CfSet => (t === 'cft' || t === 'cfna' ? { enabled: true, ringtimeout: null, destinations: [] } : { enabled: true, destinations: [] });

async function readDocs(c: Ctx, ids: number[]): Promise<Map<number, CallForwardDoc>> {
  const docs = new Map<number, CallForwardDoc>();
  for (const id of ids) docs.set(id, { id, cfu: empty('cfu'), cfb: empty('cfb'), cfna: empty('cfna'), cft: empty('cft') } as CallForwardDoc);
  if (!ids.length) return docs;
  const rows: { subscriber_id: number; type: CfType; destination_type: Destination['type']; destination: string | null; ring_timeout: number | null; enabled: number }[] =
    await c.db('call_forwards').whereIn('subscriber_id', ids).orderBy(['subscriber_id', 'type', 'position']);
  for (const r of rows) {
    const set = docs.get(r.subscriber_id)![r.type];
    set.enabled = r.enabled === 1;
    if ('ringtimeout' in set) set.ringtimeout = r.ring_timeout;
    set.destinations.push({ type: r.destination_type, destination: r.destination });
  }
  return docs;
}

function checkDoc(body: Record<string, unknown>): Record<CfType, CfSet> {
  const errors: FieldError[] = [];
  const out = {} as Record<CfType, CfSet>;
  for (const t of TYPES) {
    const set = (body[t] as CfSet | undefined) ?? empty(t);
    out[t] = { enabled: set.enabled ?? true, ...(t === 'cft' || t === 'cfna' ? { ringtimeout: set.ringtimeout ?? null } : {}), destinations: set.destinations ?? [] };
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
  if (errors.length) throw validationError(errors);
  return out;
}

async function visible(c: Ctx, id: number): Promise<boolean> {
  const qb = c.db('subscribers').where('subscribers.id', id).first('subscribers.id');
  scopeSubscriberColumn(c, qb, 'subscribers.id');
  return (await qb) !== undefined;
}

const get = async (c: Ctx, id: number): Promise<CallForwardDoc | undefined> => ((await visible(c, id)) ? (await readDocs(c, [id])).get(id) : undefined);

export const callForwards: Resource<CallForwardDoc> = {
  name: 'callforwards',
  entity: 'call_forwards',
  schemaId: 'CallForwards',
  description: 'Call forwards of a subscriber (id = subscriber id): unconditional (cfu), busy (cfb), not available (cfna), timeout (cft).',
  itemSchema: ITEM,
  replaceSchema: BODY,
  roles: { list: ROLES.all, get: ROLES.all, update: ROLES.all, delete: ROLES.all },
  notify: true,
  async list(c, q): Promise<Page<CallForwardDoc>> {
    const qb = c.db('subscribers');
    scopeSubscriberColumn(c, qb, 'subscribers.id');
    const [count] = await qb.clone().count({ n: '*' });
    const ids: number[] = (await qb.select('subscribers.id').orderBy('subscribers.id', q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows)).map((r: { id: number }) => r.id);
    const docs = await readDocs(c, ids);
    return { total: Number(count?.n ?? 0), items: ids.map((id) => docs.get(id)!) };
  },
  get: (c, id) => get(c, id as number),
  async replace(c, id, body) {
    const doc = checkDoc(body);
    await c.db('call_forwards').where('subscriber_id', id).delete();
    const rows = TYPES.flatMap((t) =>
      doc[t].destinations.map((d, position) => ({
        subscriber_id: id, type: t, position, destination_type: d.type, destination: d.destination ?? null,
        ring_timeout: doc[t].ringtimeout ?? null, enabled: doc[t].enabled,
      })),
    );
    if (rows.length) await c.db('call_forwards').insert(rows);
    return (await readDocs(c, [id as number])).get(id as number)!;
  },
  async remove(c, id) {
    await c.db('call_forwards').where('subscriber_id', id).delete();
  },
};
