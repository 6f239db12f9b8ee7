/**
 * Voicemail boxes and messages as the app-server uses them (deposit, retrieval, MWI):
 * the box of a subscriber (created on first use), a new message, the counts RFC 3842's
 * message summary reports, the box's messages in the order they are played, and the
 * changes of the retrieval menu (read, save, delete). The API reads the same rows.
 *
 * A message is **new** while it is in `INBOX` and not read (`is_read = 0`); every other
 * message is **old** (saved). The recording is an 8 kHz mono 16-bit WAV: in the row's
 * `audio` column (replicated with the database, what `/api/voicemails/:id/recording`
 * serves) and as a file `<voicemail dir>/<box id>/<message id>.wav` on the node that
 * recorded it (`voicemailFile`).
 */
import { join } from 'node:path';
import type { Knex } from 'knex';
import type { VoicemailFolder } from '../rows.js';

/** The subscriber's voicemail box id, created on first use. */
export async function ensureVoicemailBox(db: Knex, subscriberId: number): Promise<number> {
  const box = await db('voicemail_boxes').where('subscriber_id', subscriberId).first('id');
  if (box) return box.id as number;
  await db('voicemail_boxes').insert({ subscriber_id: subscriberId }).onConflict('subscriber_id').ignore();
  const again = await db('voicemail_boxes').where('subscriber_id', subscriberId).first('id');
  return again.id as number;
}

export interface NewVoicemail { caller: string; duration: number; audio?: Buffer; audioFormat?: string; folder?: VoicemailFolder; receivedAt?: Date }

/** A new message in the subscriber's box (created on first use); resolves with its id. */
export async function insertVoicemail(db: Knex, subscriberId: number, msg: NewVoicemail): Promise<number> {
  return (await depositVoicemail(db, subscriberId, msg)).id;
}

/** As insertVoicemail, with the box id too (the recording's file name needs both). */
export async function depositVoicemail(db: Knex, subscriberId: number, msg: NewVoicemail): Promise<{ id: number; boxId: number }> {
  const boxId = await ensureVoicemailBox(db, subscriberId);
  const [id] = await db('voicemail_messages').insert({
    box_id: boxId, caller: msg.caller, duration: msg.duration, audio: msg.audio ?? null,
    audio_format: msg.audioFormat ?? 'wav', folder: msg.folder ?? 'INBOX', received_at: msg.receivedAt ?? new Date(),
  });
  return { id: id as number, boxId };
}

/** Where the node that recorded a message keeps its WAV file. */
export function voicemailFile(dir: string, boxId: number, messageId: number): string {
  return join(dir, String(boxId), `${messageId}.wav`);
}

/** The owner of a box as MWI addresses it: `sip:<username>@<domain>`; undefined: no such (active) subscriber. */
export interface VoicemailOwner { subscriberId: number; username: string; domain: string }

export async function findVoicemailOwner(db: Knex, subscriberId: number): Promise<VoicemailOwner | undefined> {
  const row = await db('subscribers as s').join('domains as d', 'd.id', 's.domain_id')
    .where('s.id', subscriberId).whereNot('s.status', 'terminated').first('s.id', 's.username', 'd.domain');
  return row ? { subscriberId: row.id as number, username: row.username as string, domain: row.domain as string } : undefined;
}

/** RFC 3842's counts: new = INBOX and unread, old = the rest. */
export interface VoicemailCounts { new: number; old: number }

export async function voicemailCounts(db: Knex, subscriberId: number): Promise<VoicemailCounts> {
  const rows: Array<{ fresh: number | string; n: number | string }> = await db('voicemail_messages as m').join('voicemail_boxes as b', 'b.id', 'm.box_id')
    .where('b.subscriber_id', subscriberId)
    .select(db.raw("(m.folder = 'INBOX' AND m.is_read = 0) AS fresh"), db.raw('COUNT(*) AS n'))
    .groupBy('fresh');
  const counts = { new: 0, old: 0 };
  for (const r of rows) counts[Number(r.fresh) === 1 ? 'new' : 'old'] += Number(r.n);
  return counts;
}

/** A message as retrieval plays it (without the audio). */
export interface BoxMessage { id: number; boxId: number; folder: VoicemailFolder; isNew: boolean; caller: string; duration: number; receivedAt: Date }

/** The subscriber's messages in the order retrieval plays them: new ones first, then the others, each oldest first. */
export async function listBoxMessages(db: Knex, subscriberId: number): Promise<BoxMessage[]> {
  const rows: Array<{ id: number; box_id: number; folder: VoicemailFolder; is_read: number; caller: string; duration: number; received_at: Date }> =
    await db('voicemail_messages as m').join('voicemail_boxes as b', 'b.id', 'm.box_id').where('b.subscriber_id', subscriberId)
      .select('m.id', 'm.box_id', 'm.folder', 'm.is_read', 'm.caller', 'm.duration', 'm.received_at').orderBy([{ column: 'm.received_at' }, { column: 'm.id' }]);
  const all = rows.map((r) => ({ id: r.id, boxId: r.box_id, folder: r.folder, isNew: r.folder === 'INBOX' && !r.is_read, caller: r.caller, duration: r.duration, receivedAt: r.received_at }));
  return [...all.filter((m) => m.isNew), ...all.filter((m) => !m.isNew)];
}

/** The recording stored in the row (null: none stored). */
export async function voicemailAudio(db: Knex, messageId: number): Promise<Buffer | null> {
  const row = await db('voicemail_messages').where('id', messageId).first('audio');
  return (row?.audio as Buffer | null | undefined) ?? null;
}

/** Mark a message read (it stops counting as new); true when the row exists. */
export async function markVoicemailRead(db: Knex, messageId: number): Promise<boolean> {
  return (await db('voicemail_messages').where('id', messageId).update({ is_read: 1 })) > 0;
}

/** Move a message to a folder (and mark it read: a saved message is not new); true when the row exists. */
export async function moveVoicemail(db: Knex, messageId: number, folder: VoicemailFolder): Promise<boolean> {
  return (await db('voicemail_messages').where('id', messageId).update({ folder, is_read: 1 })) > 0;
}

/** Delete a message's row; true when it was there (the caller removes the file, voicemailFile). */
export async function deleteVoicemail(db: Knex, messageId: number): Promise<boolean> {
  return (await db('voicemail_messages').where('id', messageId).delete()) > 0;
}
