/**
 * /api/voicemails — the messages the app-server recorded (issue #11), and their audio at
 * /api/voicemailrecordings/:id (sip:provider's name; also /api/voicemails/:id/recording).
 *
 * - List (filters `subscriber_id`, `folder`, `is_read`; paging and `order_by` id/received_at),
 *   GET, PUT/PATCH of `folder` (INBOX, Old, … — sip:provider's names) and `is_read`, DELETE.
 *   Subscriber-owned: a subscriber sees its own box, a reseller its customers' (scope.ts).
 * - The audio: the WAV the row holds (`audio`, replicated with the database), else the file
 *   the app-server wrote on this node, `<voicemail.dir>/<box id>/<message id>.wav`; neither → 404.
 *   Served as `audio/x-wav`.
 * - DELETE removes the row and, after the commit, that file (a missing file is no error).
 * - After a change (PUT/PATCH/DELETE) the subscriber's MWI is asked of the app-server
 *   (`appserver.mwi`, mwi.ts); the change stands whether or not the app-server answers.
 */
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Knex } from '@ngcp/db';
import { VOICEMAIL_FOLDERS, voicemailFile } from '@ngcp/db';
import { apiError } from '../errors.js';
import { DATE_TIME, ID, object } from '../http/schemas.js';
import type { Services } from '../services.js';
import { iso, ROLES, type Ctx, type Item, type Resource } from './resource.js';
import { scopeSubscriberColumn } from './scope.js';

const S = { type: 'string' } as const;
const FOLDER = { type: 'string', enum: [...VOICEMAIL_FOLDERS], description: 'INBOX (new), Old (saved), or one of sip:provider\'s other folders' } as const;

export interface Voicemail extends Item {
  id: number; subscriber_id: number; folder: string; caller: string; duration: number; received_at: string; is_read: boolean; audio_format: string; has_audio: boolean;
}

/** The box of each item read (not a field of the document: the recording's file name needs it after a DELETE). */
const boxOf = new WeakMap<Voicemail, number>();

const VM_ITEM = object(
  {
    id: ID, subscriber_id: ID, folder: FOLDER, caller: S, duration: { type: 'integer', description: 'seconds' },
    received_at: DATE_TIME, is_read: { type: 'boolean' }, audio_format: S,
    has_audio: { type: 'boolean', description: 'the row holds the recording (else GET /api/voicemailrecordings/:id looks for the app-server\'s file)' },
  },
  ['id', 'subscriber_id', 'folder', 'caller', 'duration', 'received_at', 'is_read', 'audio_format', 'has_audio'],
);
const VM_BODY = object({ folder: FOLDER, is_read: { type: 'boolean' } }, ['folder', 'is_read']);

function vmQuery(c: Ctx): Knex.QueryBuilder {
  const qb = c.db('voicemail_messages as m')
    .join('voicemail_boxes as b', 'b.id', 'm.box_id')
    .select('m.id', 'm.box_id', 'b.subscriber_id', 'm.folder', 'm.caller', 'm.duration', 'm.received_at', 'm.is_read', 'm.audio_format', c.db.raw('m.audio IS NOT NULL AS has_audio'));
  scopeSubscriberColumn(c, qb, 'b.subscriber_id');
  return qb;
}
function vmItem(r: Record<string, unknown>): Voicemail {
  const item: Voicemail = {
    id: r.id as number, subscriber_id: r.subscriber_id as number, folder: r.folder as string, caller: r.caller as string, duration: r.duration as number,
    received_at: iso(r.received_at as Date)!, is_read: Boolean(r.is_read), audio_format: r.audio_format as string, has_audio: Boolean(Number(r.has_audio)),
  };
  boxOf.set(item, r.box_id as number);
  return item;
}
async function getVm(c: Ctx, id: number): Promise<Voicemail | undefined> {
  const r = await vmQuery(c).where('m.id', id).first();
  return r ? vmItem(r) : undefined;
}

/** Where the app-server keeps a message's WAV on this node (apps/appserver: `<dir>/<box id>/<message id>.wav`), or null without `voicemail.dir`. */
export function recordingFile(dir: string | null, boxId: number, messageId: number): string | null {
  return dir ? voicemailFile(dir, boxId, messageId) : null;
}

export const voicemails: Resource<Voicemail> = {
  name: 'voicemails',
  entity: 'voicemail',
  schemaId: 'Voicemail',
  description:
    'Voicemail messages (recorded by the app-server). Move between folders (INBOX = new, Old = saved), mark read, delete (the row and the recording file). ' +
    'A change asks the app-server to update the subscriber\'s message-waiting indication. The audio: GET /api/voicemailrecordings/:id.',
  itemSchema: VM_ITEM,
  replaceSchema: VM_BODY,
  filters: { subscriber_id: ID, folder: FOLDER, is_read: { type: 'boolean' } },
  sortable: ['id', 'received_at'],
  roles: { list: ROLES.all, get: ROLES.all, update: ROLES.all, delete: ROLES.all },
  async list(c, q) {
    const qb = vmQuery(c);
    if (q.filters.subscriber_id !== undefined) qb.where('b.subscriber_id', q.filters.subscriber_id as number);
    if (q.filters.folder !== undefined) qb.where('m.folder', q.filters.folder as string);
    if (q.filters.is_read !== undefined) qb.where('m.is_read', q.filters.is_read as boolean);
    const [count] = await qb.clone().clearSelect().count({ n: '*' });
    const rows = await qb.orderBy(`m.${q.order_by ?? 'id'}`, q.order_by_direction).limit(q.rows).offset((q.page - 1) * q.rows);
    return { total: Number(count?.n ?? 0), items: rows.map(vmItem) };
  },
  get: (c, id) => getVm(c, id as number),
  async replace(c, id, body) {
    await c.db('voicemail_messages').where('id', id).update({ folder: body.folder, is_read: body.is_read });
    return (await getVm(c, id as number))!;
  },
  async remove(c, id) {
    await c.db('voicemail_messages').where('id', id).delete();
  },
  // after the commit: the file of a deleted message goes, and the lamps follow
  afterWrite(services, op, item) {
    const boxId = boxOf.get(item);
    if (op === 'delete' && boxId !== undefined) void removeRecordingFile(services, boxId, item.id);
    void services.mwi.request(item.subscriber_id);
  },
};

async function removeRecordingFile(services: Services, boxId: number, id: number): Promise<void> {
  const file = recordingFile(services.config.voicemail.dir, boxId, id);
  if (!file) return;
  try {
    await unlink(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') services.log.warn({ file, err: (err as Error).message }, 'voicemail recording not removed');
  }
}

/** GET /api/voicemailrecordings/:id (and /api/voicemails/:id/recording): the audio as `audio/x-wav`. */
export function registerVoicemailRecording(app: FastifyInstance, services: Services): void {
  const handler = async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const c: Ctx = { db: services.db, principal: req.principal!, services, req };
    const id = (req.params as { id: number }).id;
    const qb = c.db('voicemail_messages as m').join('voicemail_boxes as b', 'b.id', 'm.box_id').where('m.id', id).first('m.box_id', 'm.audio', 'm.audio_format');
    scopeSubscriberColumn(c, qb, 'b.subscriber_id');
    const row = (await qb) as { box_id: number; audio: Buffer | null; audio_format: string } | undefined;
    if (!row) throw apiError('NGCP_API_NOT_FOUND', `voicemail ${id} not found`);
    const type = row.audio_format === 'wav' ? 'audio/x-wav' : `audio/${row.audio_format}`;
    if (row.audio) return reply.type(type).send(Buffer.from(row.audio));
    const file = recordingFile(services.config.voicemail.dir, row.box_id, id);
    const size = file ? await stat(file).then((s) => (s.isFile() ? s.size : null), () => null) : null;
    if (!file || size === null) throw apiError('NGCP_API_NOT_FOUND', `the recording of voicemail ${id} is gone`);
    return reply.type(type).header('content-length', size).send(createReadStream(file));
  };
  const schema = {
    tags: ['voicemails'], summary: 'The recording of a voicemail (8 kHz mono 16-bit WAV)', params: object({ id: ID }, ['id']),
    response: { 200: { description: 'audio/x-wav', content: { 'audio/x-wav': { schema: { type: 'string', format: 'binary' } } } }, 404: { $ref: 'ApiError#' } },
  };
  app.get('/api/voicemailrecordings/:id', { schema, handler });
  app.get('/api/voicemails/:id/recording', { schema: { ...schema, summary: `${schema.summary}; the same as /api/voicemailrecordings/:id` }, handler });
}
