/** Writes done by the SIP side: accounting records (proxy), CDRs (mediator); voicemail: repo/voicemail.ts. */
import type { Knex } from 'knex';
import type { AccKind, AccRow, CdrRow } from '../rows.js';

export type NewAcc = Omit<AccRow, 'id' | 'mediated' | 'kind' | 'init_time' | 'from_tag' | 'to_tag' | 'sip_reason' | 'call_type' | 'src_user' | 'src_domain' | 'src_ip' | 'dst_user' | 'dst_domain' | 'dst_ouser' | 'src_subscriber_id' | 'dst_subscriber_id' | 'peering_server_id'> &
  Partial<Omit<AccRow, 'id' | 'mediated'>>;

/** The kind of an accounting record when the writer gives none: BYE → stop, INVITE 2xx → start, anything else → failure. */
export function accKind(rec: Pick<NewAcc, 'method' | 'sip_code'>): AccKind {
  if (rec.method === 'BYE') return 'stop';
  return rec.method === 'INVITE' && rec.sip_code.startsWith('2') ? 'start' : 'failure';
}

/**
 * Write accounting records, each at most once per (callid, kind) (unique key of migration
 * 0005): a record whose call already has a row of its kind is skipped, not an error, so
 * both nodes of the pair — or a retry after an answer that got lost — may write the same
 * start or stop. One multi-row `INSERT IGNORE`; resolves with the number of rows inserted.
 */
export async function insertAccs(db: Knex, recs: readonly NewAcc[]): Promise<number> {
  if (recs.length === 0) return 0;
  const rows = recs.map((r) => ({ ...r, kind: r.kind ?? accKind(r) }));
  const q = db('acc').insert(rows).onConflict().ignore().toSQL().toNative();
  const [header] = (await db.raw(q.sql, q.bindings as Knex.RawBinding[])) as unknown as [{ affectedRows: number }];
  return header.affectedRows;
}

/** One accounting record (see insertAccs): true when written, false when its call had a row of that kind already. */
export async function insertAcc(db: Knex, rec: NewAcc): Promise<boolean> {
  return (await insertAccs(db, [rec])) === 1;
}

export type NewCdr = Pick<CdrRow, 'call_id' | 'call_status' | 'call_code' | 'init_time'> & Partial<Omit<CdrRow, 'id'>>;

export async function insertCdr(db: Knex, cdr: NewCdr): Promise<number> {
  const [id] = await db('cdrs').insert(cdr);
  return id as number;
}
