/**
 * Messages of an INVITE transaction this proxy does not have (issue 9, "state that must
 * survive"): the other node's proxy — or this process before a restart — forwarded the
 * INVITE and is gone, so the answer, the caller's CANCEL and the ACK for an error arrive
 * here. Everything needed lives in Redis `call:<Call-ID>` (`fork`, `branches`,
 * `final:<branch>`, written by InviteSession; packages/db/REDIS.md):
 *
 * - a response to a request we forwarded is relayed statelessly by its Via (§16.11: our
 *   top Via popped, sent to the next); a 2xx to the INVITE also establishes the call
 *   (state, media answer, accounting start, CANCEL of the other branches); a final
 *   non-2xx is ACKed towards the callee (the hop-by-hop ACK the dead transaction owed,
 *   §17.1.1.3), recorded as that branch's final, and relayed once no other branch rings
 *   — with the best status of all branches (§16.7) — then the call ends (failure record,
 *   media deleted); a final response to a BYE ends the call (stop record).
 * - a CANCEL (§9.2) is answered 200 and sent on every branch without a final response;
 *   the callee's 487 then flows back through the rule above.
 * - the ACK for an error response (hop-by-hop, it carries no Route of ours) is absorbed.
 *
 * Accounting is idempotent per (callid, kind), so an event both nodes see is one row.
 */
import type { ServerTransaction, SipRequest, SipResponse, TransportSource as Source, Via } from '@ngcp/sip';
import { createResponse, forwardResponseStatelessly, newTag, reasonPhrase, SipRequest as Request } from '@ngcp/sip';
import type { CallBranch, CallFork } from '@ngcp/db';
import { hasSdp, nowS, type ProxyContext } from '../context.js';
import { selectBestResponse } from '../routing/best-response.js';
import { inviteAccRecord } from '../store/accounting.js';
import { finalField, type CallRecord } from '../store/call-store.js';
import { endCall } from './in-dialog.js';
import { exchangeSdp, timedMedia } from './media-call.js';
import { sdpExchange } from './sdp-exchange.js';

export type TakeoverEvent =
  | 'response-relayed' | 'response-held' | 'ack-sent' | 'ack-absorbed'
  | 'call-answered' | 'call-failed' | 'call-ended' | 'cancel-forwarded' | 'cancel-unknown';

const isOurVia = (ctx: ProxyContext, via: Via): boolean => via.host === ctx.self.address && (via.port ?? 5060) === ctx.self.port;

/** §16.11: pop our top Via and send the response to the next one; false when dropped (counted). */
export function relayStateless(ctx: ProxyContext, res: SipResponse): boolean {
  let d;
  try {
    d = forwardResponseStatelessly(res, (v) => isOurVia(ctx, v));
  } catch {
    ctx.metrics.drops.inc({ reason: 'stray-response-malformed' });
    return false;
  }
  if (d.action === 'drop' || d.hop.needsResolution) {
    ctx.metrics.drops.inc({ reason: d.action === 'drop' ? `stray-response-${d.reason}` : 'stray-response-unresolvable' });
    return false;
  }
  ctx.sip.send(d.response, { transport: d.hop.transport, address: d.hop.address, port: d.hop.port }).catch(() => ctx.metrics.drops.inc({ reason: 'send-failed' }));
  return true;
}

/** A response that matched no client transaction of ours. */
export function onStrayResponse(ctx: ProxyContext, res: SipResponse, source: Source): void {
  let method: string;
  let callId: string;
  let top: Via | undefined;
  try {
    method = res.cseq().method;
    callId = res.callId();
    top = res.vias()[0];
  } catch {
    ctx.metrics.drops.inc({ reason: 'stray-response-malformed' });
    return;
  }
  // not ours, a provisional, or a response to anything but INVITE/BYE: stateless relay only
  if (top === undefined || !isOurVia(ctx, top) || res.status < 200 || (method !== 'INVITE' && method !== 'BYE')) return void relayStateless(ctx, res);
  if (method === 'BYE') {
    if (relayStateless(ctx, res)) ctx.metrics.takeover.inc({ event: 'response-relayed' });
    ctx.metrics.takeover.inc({ event: 'call-ended' });
    void endCall(ctx, callId, res.status, res.reason);
    return;
  }
  const branch = top.branch ?? '';
  const log = ctx.logger.child({ component: 'takeover', callId });
  const done = res.status < 300 ? inviteAnswered(ctx, res, callId, branch, log) : inviteFailed(ctx, res, callId, branch, source);
  done.catch((err: Error) => {
    // Redis away: still let the caller have the answer
    log.warn({ err: err.message, status: res.status }, 'stray INVITE response: call state not available; relayed statelessly');
    if (relayStateless(ctx, res)) ctx.metrics.takeover.inc({ event: 'response-relayed' });
  });
}

async function inviteAnswered(ctx: ProxyContext, res: SipResponse, callId: string, branch: string, log: ProxyContext['logger']): Promise<void> {
  const call = await ctx.calls.get(callId);
  if (call && call.state !== 'answered') {
    // the first answer this proxy sees for a call it did not fork: the call is established here
    const toTag = res.to().tag ?? '';
    const answerTime = String(nowS());
    Object.assign(call, { state: 'answered', answer_time: answerTime, to_tag: toTag });
    await ctx.calls.update(callId, { state: 'answered', answer_time: answerTime, to_tag: toTag });
    ctx.acc.write(inviteAccRecord(call, res.status, res.reason, toTag));
    ctx.metrics.takeover.inc({ event: 'call-answered' });
    for (const b of pendingBranches(call, branch)) sendCancel(ctx, call, b, 'SIP;cause=200;text="Call completed elsewhere"');
    log.info({ status: res.status }, 'answer for an INVITE forwarded elsewhere; call established here');
  }
  if (call?.media === '1' && ctx.media && hasSdp(res)) {
    // the callee's answer, or its offer when the INVITE had none (late offer: the ACK answers)
    const ex = sdpExchange({ kind: 'response', method: 'INVITE', requestHadSdp: call.late_offer !== '1', fromTag: call.from_tag ?? '', toTag: res.to().tag ?? '' })!;
    try {
      res.setBody(await exchangeSdp(ctx, callId, ex, res.body.toString()));
    } catch (err) {
      log.warn({ err: (err as Error).message, op: ex.op }, 'media offer/answer of the 2xx failed; SDP relayed unchanged');
    }
  }
  if (relayStateless(ctx, res)) ctx.metrics.takeover.inc({ event: 'response-relayed' });
}

async function inviteFailed(ctx: ProxyContext, res: SipResponse, callId: string, branch: string, source: Source): Promise<void> {
  let call: CallRecord | undefined;
  try {
    call = (await ctx.calls.setFinal(callId, branch, res.status)) as CallRecord | undefined;
  } finally {
    // the callee gets its ACK whatever Redis says (without the branch's Route when Redis is away)
    sendAckForError(ctx, res, call, branch, source);
  }
  if (!call) {
    // the call ended already (a retransmission, or the old proxy relayed it): the caller's ICT absorbs it
    if (relayStateless(ctx, res)) ctx.metrics.takeover.inc({ event: 'response-relayed' });
    return;
  }
  const pending = pendingBranches(call, branch);
  if (call.state === 'answered' || (pending.length > 0 && res.status < 600)) {
    // another branch answered, or still rings: this one's final goes no further (§16.7)
    ctx.metrics.takeover.inc({ event: 'response-held' });
    return;
  }
  if (res.status >= 600) for (const b of pending) sendCancel(ctx, call, b);
  // what the caller gets (§16.7 step 6): the best of the branches' finals — carried by this
  // response, the one in hand; 487 once the caller CANCELled
  const best = call.cancelled === '1' ? 487 : (selectBestResponse(finalsOf(call))?.status ?? res.status);
  if (best !== res.status) {
    res.status = best;
    res.reason = reasonPhrase(best);
  }
  const ended = await ctx.calls.remove(callId);
  if (relayStateless(ctx, res)) ctx.metrics.takeover.inc({ event: 'response-relayed' });
  if (!ended) return; // another response ended it just now
  ctx.metrics.takeover.inc({ event: 'call-failed' });
  ctx.acc.write(inviteAccRecord(ended, res.status, res.reason, ''));
  if (ended.media === '1' && ctx.media) {
    timedMedia(ctx, 'delete', () => ctx.media!.delete({ call_id: callId })).catch((err: Error) => ctx.logger.warn({ component: 'takeover', callId, err: err.message }, 'media.delete failed'));
  }
}

/** A CANCEL that matched no INVITE transaction of ours: CANCEL every branch still ringing (from Redis). */
export async function cancelWithoutInvite(ctx: ProxyContext, cancel: SipRequest, cancelTx: ServerTransaction): Promise<void> {
  const callId = cancel.callId();
  const call = await ctx.calls.get(callId);
  if (!call || call.branches === undefined) {
    ctx.metrics.takeover.inc({ event: 'cancel-unknown' });
    cancelTx.respond(createResponse(cancel, 481, { toTag: newTag() }));
    return;
  }
  // §9.2: the CANCEL is answered 200 whatever becomes of the INVITE
  cancelTx.respond(createResponse(cancel, 200, { toTag: newTag() }));
  if (call.state === 'answered') return; // too late: the INVITE has its 2xx
  const pending = pendingBranches(call, undefined);
  await ctx.calls.update(callId, { cancelled: '1' });
  for (const b of pending) sendCancel(ctx, call, b);
  ctx.metrics.takeover.inc({ event: 'cancel-forwarded' });
  ctx.logger.info({ component: 'takeover', callId, branches: pending.length }, 'CANCEL without the INVITE transaction; sent on the ringing branches');
}

/** The ACK for an error response arrives hop by hop with no Route of ours: nothing to forward (§17.1.1.3). */
export function absorbAck(ctx: ProxyContext): void {
  ctx.metrics.takeover.inc({ event: 'ack-absorbed' });
}

function branchesOf(call: CallRecord): CallBranch[] {
  try {
    const b = JSON.parse(call.branches ?? '[]') as unknown;
    return Array.isArray(b) ? (b as CallBranch[]) : [];
  } catch {
    return [];
  }
}

function forkOf(call: CallRecord): CallFork | undefined {
  try {
    return call.fork ? (JSON.parse(call.fork) as CallFork) : undefined;
  } catch {
    return undefined;
  }
}

/** The final statuses recorded for the call's branches (`final:<branch>`). */
function finalsOf(call: CallRecord): number[] {
  const h = call as unknown as Record<string, string>;
  return branchesOf(call).flatMap((b) => {
    const v = Number(h[finalField(b.branch)]);
    return Number.isInteger(v) && v >= 300 ? [v] : [];
  });
}

/** Branches other than `except` without a final response recorded. */
function pendingBranches(call: CallRecord, except: string | undefined): CallBranch[] {
  const h = call as unknown as Record<string, string>;
  return branchesOf(call).filter((b) => b.branch !== except && h[finalField(b.branch)] === undefined);
}

function destOf(b: CallBranch | undefined): { transport: string; address: string; port: number } | undefined {
  const m = b ? /^(.*):(\d+)$/.exec(b.dest) : null;
  return m ? { transport: 'udp', address: m[1]!, port: Number(m[2]) } : undefined;
}

/** CANCEL of one branch (§9.1): the branch's Request-URI, Route and Via, the INVITE's From, To, Call-ID and CSeq number. */
function sendCancel(ctx: ProxyContext, call: CallRecord, b: CallBranch, reason?: string): void {
  const fork = forkOf(call);
  const dest = destOf(b);
  if (!fork || !dest) return;
  const req = new Request('CANCEL', b.uri, [
    ['Via', `SIP/2.0/UDP ${ctx.self.address}:${ctx.self.port};branch=${b.branch}`],
    ['Max-Forwards', '70'],
    ['From', fork.from], ['To', fork.to], ['Call-ID', call.call_id], ['CSeq', `${fork.cseq} CANCEL`],
    ...b.route.map((r) => ['Route', r] as [string, string]),
    ...(reason ? [['Reason', reason] as [string, string]] : []),
    ['Content-Length', '0'],
  ]);
  try {
    ctx.sip.sendRequest(req, dest, { onFinal: () => undefined });
  } catch (err) {
    ctx.logger.warn({ component: 'takeover', callId: call.call_id, err: (err as Error).message }, 'CANCEL not sent');
  }
}

/** The ACK the INVITE client transaction owed for a final non-2xx (§17.1.1.3): same branch, the response's To. */
function sendAckForError(ctx: ProxyContext, res: SipResponse, call: CallRecord | undefined, branch: string, source: Source): void {
  const b = call ? branchesOf(call).find((x) => x.branch === branch) : undefined;
  const uri = b?.uri ?? res.to().uri.toString();
  const ack = new Request('ACK', uri, [
    ['Via', `SIP/2.0/UDP ${ctx.self.address}:${ctx.self.port};branch=${branch}`],
    ['Max-Forwards', '70'],
    ['From', res.get('from') ?? ''], ['To', res.get('to') ?? ''], ['Call-ID', res.callId()], ['CSeq', `${res.cseq().seq} ACK`],
    ...(b?.route ?? []).map((r) => ['Route', r] as [string, string]),
    ['Content-Length', '0'],
  ]);
  ctx.sip.send(ack, destOf(b) ?? { transport: source.transport, address: source.address, port: source.port }).then(
    () => ctx.metrics.takeover.inc({ event: 'ack-sent' }),
    () => ctx.metrics.drops.inc({ reason: 'ack-send-failed' }),
  );
}

