/** Writes done by the SIP side: accounting records (proxy), CDRs (mediator), voicemail (appserver). */
import type { Knex } from 'knex';
import type { AccRow, CdrRow, VoicemailFolder } from '../rows.js';

export type NewAcc = Omit<AccRow, 'id' | 'mediated' | 'from_tag' | 'to_tag' | 'sip_reason' | 'call_type' | 'src_user' | 'src_domain' | 'src_ip' | 'dst_user' | 'dst_domain' | 'dst_ouser' | 'src_subscriber_id' | 'dst_subscriber_id' | 'peering_server_id'> &
  Partial<Omit<AccRow, 'id' | 'mediated'>>;

export async function insertAcc(db: Knex, rec: NewAcc): Promise<number> {
  const [id] = await db('acc').insert(rec);
  return id as number;
}

/** Several records in one multi-row INSERT (the proxy batches its writes); resolves with the row count. */
export async function insertAccs(db: Knex, recs: readonly NewAcc[]): Promise<number> {
  if (recs.length === 0) return 0;
  await db('acc').insert(recs as NewAcc[]);
  return recs.length;
}

export type NewCdr = Pick<CdrRow, 'call_id' | 'call_status' | 'call_code' | 'init_time'> & Partial<Omit<CdrRow, 'id'>>;

export async function insertCdr(db: Knex, cdr: NewCdr): Promise<number> {
  const [id] = await db('cdrs').insert(cdr);
  return id as number;
}

/** The subscriber's voicemail box id, created on first use. */
export async function ensureVoicemailBox(db: Knex, subscriberId: number): Promise<number> {
  const box = await db('voicemail_boxes').where('subscriber_id', subscriberId).first('id');
  if (box) return box.id as number;
  await db('voicemail_boxes').insert({ subscriber_id: subscriberId }).onConflict('subscriber_id').ignore();
  const again = await db('voicemail_boxes').where('subscriber_id', subscriberId).first('id');
  return again.id as number;
}

export interface NewVoicemail { caller: string; duration: number; audio?: Buffer; audioFormat?: string; folder?: VoicemailFolder; receivedAt?: Date }

export async function insertVoicemail(db: Knex, subscriberId: number, msg: NewVoicemail): Promise<number> {
  const boxId = await ensureVoicemailBox(db, subscriberId);
  const [id] = await db('voicemail_messages').insert({
    box_id: boxId, caller: msg.caller, duration: msg.duration, audio: msg.audio ?? null,
    audio_format: msg.audioFormat ?? 'wav', folder: msg.folder ?? 'INBOX', received_at: msg.receivedAt ?? new Date(),
  });
  return id as number;
}
