/**
 * What one call's accounting records make (pure; the database side is mediator.ts).
 *
 * The proxy writes at most one record of each kind per Call-ID (acc's unique key): `start`
 * (the INVITE answered 2xx), `stop` (the BYE answered), `failure` (the INVITE's final was
 * not 2xx). A call is complete — and gets its CDR — when:
 * - start + stop: answered; duration = stop − start;
 * - failure (and no start): not answered; status from the final's code;
 * - start alone for `leftoverAfterMs`: answered, its end never recorded (the proxy lost the
 *   call, or the BYE never came): status `timeout`, duration 0;
 * - stop alone for `stopWaitMs`: the start never came (written late, or lost): status `ok`,
 *   no start time, duration 0.
 * Otherwise the call is still open: the records wait for the next pass.
 */
import { VOICEBOX_DOMAIN, type CallStatus, type CallType, type NewCdr } from '@ngcp/db';

/** The columns of an `acc` row the mediator reads. */
export interface AccRecord {
  id: number;
  kind: 'start' | 'stop' | 'failure';
  callid: string;
  sip_code: string;
  time: Date;
  init_time: Date | null;
  src_user: string | null;
  src_domain: string | null;
  src_ip: string | null;
  dst_user: string | null;
  dst_domain: string | null;
  dst_ouser: string | null;
  src_subscriber_id: number | null;
  dst_subscriber_id: number | null;
  peering_server_id: number | null;
  call_type: CallType;
}

export interface MediateOptions {
  now: Date;
  leftoverAfterMs: number;
  stopWaitMs: number;
}

/** Why a CDR was made: the metrics' `outcome` label. */
export type Outcome = 'answered' | 'failed' | 'leftover_start' | 'lone_stop';

export interface Mediated {
  /** The CDR without the customer ids and the CLI (the caller's number), which mediator.ts looks up. */
  cdr: NewCdr;
  outcome: Outcome;
  /** acc rows this CDR accounts for: marked mediated with it. */
  accIds: number[];
}

/** The CDR status of a failed call's final code. */
export function failureStatus(code: string): CallStatus {
  switch (code) {
    case '486':
    case '600':
    case '603':
      return 'busy';
    case '487':
      return 'cancel';
    case '480':
      return 'offline';
    case '408':
      return 'noanswer';
    default:
      return 'other';
  }
}

const ms3 = (ms: number): number => Math.round(Math.max(0, ms)) / 1000;

/**
 * The CDR's call type of the record naming the parties: the proxy's, but `voicemail` for a call
 * to a voicebox (`dst_domain` `voicebox.local`) whatever its record says — records written
 * before migration 0010 (`call` for a retrieval, the forward for a deposit), or by a proxy of
 * that time during an upgrade.
 */
export function cdrCallType(head: Pick<AccRecord, 'call_type' | 'dst_domain'>): CallType {
  return head.dst_domain === VOICEBOX_DOMAIN ? 'voicemail' : head.call_type;
}

/** The CDR of one call's records (all of one Call-ID, not yet mediated), or undefined while the call is open. */
export function mediateCall(rows: readonly AccRecord[], opts: MediateOptions): Mediated | undefined {
  if (rows.length === 0) return undefined;
  const start = rows.find((r) => r.kind === 'start');
  const stop = rows.find((r) => r.kind === 'stop');
  const failure = rows.find((r) => r.kind === 'failure');
  const accIds = rows.map((r) => r.id);
  const now = opts.now.getTime();
  // the record naming the parties: the INVITE's (start or failure); the stop's only if alone
  const head = start ?? failure ?? stop!;
  const base = (): NewCdr => ({
    call_id: head.callid,
    source_subscriber_id: head.src_subscriber_id,
    source_user: head.src_user ?? '',
    source_domain: head.src_domain ?? '',
    source_cli: head.src_user ?? '',
    source_ip: head.src_ip ?? '',
    // one peering server per record: the caller's side when no subscriber called (a call from a peer), else the callee's
    source_peer_id: head.src_subscriber_id == null ? head.peering_server_id : null,
    destination_peer_id: head.src_subscriber_id == null ? null : head.peering_server_id,
    destination_subscriber_id: head.dst_subscriber_id,
    destination_user: head.dst_user ?? '',
    destination_domain: head.dst_domain ?? '',
    destination_user_in: head.dst_ouser ?? head.dst_user ?? '',
    call_type: cdrCallType(head),
    call_status: 'ok',
    call_code: head.sip_code,
    init_time: head.init_time ?? head.time,
    start_time: null,
    duration: 0,
  });
  if (start && stop) {
    return { outcome: 'answered', accIds, cdr: { ...base(), call_code: start.sip_code, start_time: start.time, duration: ms3(stop.time.getTime() - start.time.getTime()) } };
  }
  if (start) {
    // a failure beside a start (a late 2xx after the caller's CANCEL): the call was answered; wait for its stop
    if (now - start.time.getTime() < opts.leftoverAfterMs) return undefined;
    return { outcome: 'leftover_start', accIds, cdr: { ...base(), call_status: 'timeout', call_code: start.sip_code, start_time: start.time } };
  }
  if (failure) return { outcome: 'failed', accIds, cdr: { ...base(), call_status: failureStatus(failure.sip_code), call_code: failure.sip_code } };
  if (now - stop!.time.getTime() < opts.stopWaitMs) return undefined;
  return { outcome: 'lone_stop', accIds, cdr: { ...base(), call_code: '200', init_time: stop!.time } };
}

/** Rows grouped by Call-ID, in the order of their first row. */
export function byCall<T extends { callid: string }>(rows: readonly T[]): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const r of rows) {
    const list = m.get(r.callid);
    if (list) list.push(r);
    else m.set(r.callid, [r]);
  }
  return m;
}
