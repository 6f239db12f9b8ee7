/**
 * Accounting rows (table `acc`, written by the proxy) read straight from the node's
 * MariaDB, as an operator checking the records would: start = INVITE with 200, stop =
 * BYE, failure = INVITE with a final status ≥ 300 — all keyed by Call-ID.
 */
import { createPool, type Pool, type RowDataPacket } from 'mysql2/promise';

export interface AccRecord {
  method: string;
  callid: string;
  sip_code: string;
  sip_reason: string;
  from_tag: string;
  to_tag: string;
  src_user: string | null;
  dst_user: string | null;
  /** the peer a call went to or came from (peering_servers.id) */
  peering_server_id: number | null;
  /** 'call', the forward the call took last (cfu, cfb, cfna, cft), or 'voicemail' (the callee a voicebox) */
  call_type: string;
}

export type AccKind = 'start' | 'stop' | 'failure';

export function accKind(r: AccRecord): AccKind | undefined {
  const code = Number(r.sip_code);
  if (r.method === 'INVITE') return code >= 200 && code < 300 ? 'start' : code >= 300 ? 'failure' : undefined;
  if (r.method === 'BYE') return 'stop';
  return undefined;
}

export class AccReader {
  private readonly pool: Pool;

  constructor(cfg: { host: string; port: number; user: string; password: string; database: string }) {
    this.pool = createPool({ ...cfg, connectionLimit: 2 });
  }

  async byCallId(callId: string): Promise<AccRecord[]> {
    const [rows] = await this.pool.query<RowDataPacket[]>(
      'SELECT method, callid, sip_code, sip_reason, from_tag, to_tag, src_user, dst_user, peering_server_id, call_type FROM acc WHERE callid = ? ORDER BY id',
      [callId],
    );
    return rows as AccRecord[];
  }

  /** The kinds of the Call-ID's records, in order (e.g. ['start', 'stop']). */
  async kinds(callId: string): Promise<Array<AccKind | undefined>> {
    return (await this.byCallId(callId)).map(accKind);
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
