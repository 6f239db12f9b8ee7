/**
 * /api/voicemailsettings/:subscriber_id — a subscriber's voicemail box settings as one
 * document: `{ id, email, attach, delete_after_email, pin_set }` (id = subscriber id).
 *
 * - Every visible subscriber has settings: without a `voicemail_boxes` row GET answers the
 *   defaults (the columns' defaults; nothing is written on read). The row is created by the
 *   first PUT/PATCH (an upsert on the unique subscriber_id), or by the appserver when the
 *   first message arrives (`ensureVoicemailBox`).
 * - The PIN is write-only: 4–10 digits, stored only as scrypt (`voicemail_boxes.pin_hash`),
 *   never returned — `pin_set` says whether there is one. On PUT an absent `pin` keeps the
 *   current one and `null` removes it; with PATCH use `add /pin` (the document has no `pin`
 *   member, so `replace /pin` is refused as RFC 6902 requires).
 * - Not published on ngcp:changes: nothing in live routing depends on it.
 */
import { hashPassword, type Knex } from '@ngcp/db';
import { validationError } from '../errors.js';
import { ID, nullable, object } from '../http/schemas.js';
import { pageOf, ROLES, type Ctx, type Item, type Page, type Resource } from './resource.js';
import { scopeSubscriberColumn } from './scope.js';

export type VoicemailSettings = Item & { id: number; email: string | null; attach: boolean; delete_after_email: boolean; pin_set: boolean };

export const PIN = {
  type: 'string', pattern: '^[0-9]{4,10}$', writeOnly: true,
  description: 'voicemail PIN, 4–10 digits; write-only (stored as scrypt; null removes it, absent on PUT keeps it)',
} as const;
const EMAIL = nullable({ type: 'string', format: 'email', maxLength: 255, description: 'where new messages are mailed; null = no mail' });
const ATTACH = { type: 'boolean', description: 'attach the recording to the mail' } as const;
const DELETE_AFTER = { type: 'boolean', description: 'delete the message once mailed (needs email and attach)' } as const;

const ITEM = object(
  { id: { ...ID, description: 'the subscriber id' }, email: EMAIL, attach: ATTACH, delete_after_email: DELETE_AFTER, pin_set: { type: 'boolean', description: 'a PIN is set (the PIN itself is never returned)' } },
  ['id', 'email', 'attach', 'delete_after_email', 'pin_set'],
);
const BODY = object({ pin: nullable(PIN), email: EMAIL, attach: { ...ATTACH, default: true }, delete_after_email: { ...DELETE_AFTER, default: false } }, []);

/** What a subscriber without a voicemail box has (the column defaults of voicemail_boxes). */
const DEFAULTS = { email: null, attach: true, delete_after_email: false, pin_set: false } as const;

interface Row { id: number; box_id: number | null; email: string | null; attach: number | null; delete_after_email: number | null; pin_set: number | null }

function query(c: Ctx): Knex.QueryBuilder {
  const qb = c.db('subscribers as s')
    .leftJoin('voicemail_boxes as b', 'b.subscriber_id', 's.id')
    .select('s.id', 'b.id as box_id', 'b.email', 'b.attach', 'b.delete_after_email', c.db.raw('b.pin_hash IS NOT NULL AS pin_set'));
  scopeSubscriberColumn(c, qb, 's.id');
  return qb;
}

const toItem = (r: Row): VoicemailSettings =>
  r.box_id == null
    ? { id: r.id, ...DEFAULTS }
    : { id: r.id, email: r.email ?? null, attach: Boolean(r.attach), delete_after_email: Boolean(r.delete_after_email), pin_set: Boolean(Number(r.pin_set)) };

async function get(c: Ctx, id: number): Promise<VoicemailSettings | undefined> {
  const r = (await query(c).where('s.id', id).first()) as Row | undefined;
  return r ? toItem(r) : undefined;
}

export const voicemailSettings: Resource<VoicemailSettings> = {
  name: 'voicemailsettings',
  entity: 'voicemail_settings',
  schemaId: 'VoicemailSettings',
  description:
    'Voicemail box settings of a subscriber (id = subscriber id): e-mail notification, attach/delete-after-mail, PIN. ' +
    'Subscribers without a box get the defaults; the box is created by the first PUT/PATCH. The PIN (4–10 digits) is write-only: ' +
    'responses carry only `pin_set`; a PUT without `pin` keeps it, `"pin": null` removes it; PATCH sets it with `add /pin`.',
  itemSchema: ITEM,
  replaceSchema: BODY,
  filters: { subscriber_id: ID },
  sortable: ['id'],
  roles: { list: ROLES.all, get: ROLES.all, update: ROLES.all },
  list(c, q): Promise<Page<VoicemailSettings>> {
    const qb = query(c);
    if (q.filters.subscriber_id !== undefined) qb.where('s.id', q.filters.subscriber_id as number);
    return pageOf(qb, q, 's.id', toItem);
  },
  get: (c, id) => get(c, id as number),
  async replace(c, id, body) {
    const email = (body.email as string | null | undefined) ?? null;
    const attach = (body.attach as boolean | undefined) ?? true;
    const deleteAfter = (body.delete_after_email as boolean | undefined) ?? false;
    if (deleteAfter && (email === null || !attach)) {
      throw validationError([{ field: 'delete_after_email', message: 'needs an email address and attach: true (the message would be lost)' }]);
    }
    const row: Record<string, unknown> = { email, attach, delete_after_email: deleteAfter };
    if (body.pin === null) row.pin_hash = null;
    else if (typeof body.pin === 'string') row.pin_hash = await hashPassword(body.pin);
    await c.db('voicemail_boxes').insert({ subscriber_id: id, ...row }).onConflict('subscriber_id').merge(Object.keys(row));
    return (await get(c, id as number))!;
  },
  // the item never holds the PIN; spelled out so a future field cannot slip into the journal
  journalContent: ({ id, email, attach, delete_after_email, pin_set }) => ({ id, email, attach, delete_after_email, pin_set }),
};
