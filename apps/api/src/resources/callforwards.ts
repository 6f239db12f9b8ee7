/**
 * /api/callforwards/:subscriber_id — the subscriber's call forwards as one document:
 * `{ id, cfu: {enabled, destinations}, cfb: {…}, cfna: {enabled, ringtimeout, destinations},
 * cft: {enabled, ringtimeout, destinations} }`. A destination is a number (E.164), a SIP
 * URI, or the subscriber's voicemail. DELETE removes every forward.
 */
import {
  CALL_FORWARD_TYPES as TYPES, CALL_FORWARDS_ENTITY, checkCallForwards, readCallForwardDocs as readDocs, removeCallForwards, replaceCallForwards,
  type CallForwardDoc as Doc,
} from '@ngcp/db';
import { validationError } from '../errors.js';
import { ID, nullable, object } from '../http/schemas.js';
import { ROLES, type Ctx, type Item, type Page, type Resource } from './resource.js';
import { scopeSubscriberColumn } from './scope.js';

// the document, its check and its write are @ngcp/db's (repo/call-forwards.ts): the proxy's star codes write through the same code
export type CallForwardDoc = Item & Doc;

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

async function visible(c: Ctx, id: number): Promise<boolean> {
  const qb = c.db('subscribers').where('subscribers.id', id).first('subscribers.id');
  scopeSubscriberColumn(c, qb, 'subscribers.id');
  return (await qb) !== undefined;
}

const get = async (c: Ctx, id: number): Promise<CallForwardDoc | undefined> => ((await visible(c, id)) ? (await readDocs(c.db, [id])).get(id) : undefined);

export const callForwards: Resource<CallForwardDoc> = {
  name: 'callforwards',
  entity: CALL_FORWARDS_ENTITY,
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
    const docs = await readDocs(c.db, ids);
    return { total: Number(count?.n ?? 0), items: ids.map((id) => docs.get(id)!) };
  },
  get: (c, id) => get(c, id as number),
  async replace(c, id, body) {
    // the body passed the JSON schema (BODY): the shape is the document's
    const checked = checkCallForwards(body as Parameters<typeof checkCallForwards>[0]);
    if (!checked.ok) throw validationError(checked.errors);
    return replaceCallForwards(c.db, id as number, checked.doc);
  },
  async remove(c, id) {
    await removeCallForwards(c.db, id as number);
  },
};
