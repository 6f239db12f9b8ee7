/**
 * Requests inside a dialog we record-routed (RFC 3261 §16.4, §16.12): loose-routed by their
 * Route headers alone, so a restarted proxy carries on every established call. BYE ends the
 * call: media deleted, `call:<id>` removed, a stop accounting record. re-INVITE/UPDATE SDP
 * goes through mediactl when the call's media is relayed. ACK for a 2xx is forwarded
 * statelessly (it is not a transaction). The Via branch we add is a keyed hash of the
 * request as received (routing/branch.ts), so either node of the pair forwards a
 * retransmission as the same transaction.
 */
import type { ClientTransactionUser, Destination, ServerTransaction, SipRequest, SipResponse, TransportSource as Source } from '@ngcp/sip';
import { newBranch } from '@ngcp/sip';
import { copyRequest, decrementMaxForwards, hasSdp, lazyChild, ourVia, reply, respond, type Log, type ProxyContext } from '../context.js';
import { dialogBranch } from '../routing/branch.js';
import { planLooseRoute } from '../routing/loose-route.js';
import { exchangeSdp } from './media-call.js';
import { sdpExchange } from './sdp-exchange.js';
import type { CallRecord } from '../store/call-store.js';
import { callType } from '../store/accounting.js';
import { timedMedia } from './media-call.js';
import { absorbAck } from './takeover.js';
import { cseqShift } from '../peering/peer-auth.js';

/**
 * Copy, pop our Route entries, decrement Max-Forwards; undefined when not routable. In a dialog
 * whose INVITE a peer challenged (peering/peer-auth.ts) a request of the caller's side goes on
 * with its CSeq shifted as our Route entry says (`shift`: how much; its responses go back unshifted).
 */
function routed(ctx: ProxyContext, req: SipRequest): { out: SipRequest; dest: Destination; shift: number } | { error: number; reason: string; notOurs?: true } {
  const routes = req.routes();
  const plan = planLooseRoute(routes, req.requestUri(), ctx.self);
  if (!plan.ownRouteSeen && plan.newRequestUri === undefined) return { error: 404, reason: 'Not Record-Routed Here', notOurs: true };
  if (!plan.next) return { error: 404, reason: 'No Route' };
  const out = copyRequest(req);
  if (plan.newRequestUri !== undefined) {
    out.uri = plan.newRequestUri;
    const all = out.elements('route');
    out.set('Route', undefined);
    for (const r of all.slice(0, -1)) out.append('Route', r);
  }
  for (let i = 0; i < plan.popTop; i++) out.removeFirstElement('route');
  decrementMaxForwards(out);
  const shift = plan.popTop > 0 ? cseqShift(routes.slice(0, plan.popTop), req.from().tag) : 0;
  if (shift > 0) {
    const cseq = req.cseq();
    out.set('CSeq', `${cseq.seq + shift} ${cseq.method}`);
  }
  return { out, dest: plan.next, shift };
}

export async function handleInDialog(ctx: ProxyContext, tx: ServerTransaction, req: SipRequest, _source: Source): Promise<void> {
  const r = routed(ctx, req);
  if ('error' in r) return void reply(ctx, tx, req, r.error, { reason: r.reason });
  const { out, dest, shift } = r;
  const callId = req.callId();
  const fromTag = req.from().tag ?? '';
  const toTag = req.to().tag ?? '';
  const log = lazyChild(ctx.logger, { component: 'dialog', callId });
  let call: CallRecord | undefined;
  // a re-INVITE without SDP asks for an offer in its 2xx (the answer then comes in the ACK)
  const offered = hasSdp(req);
  const withMedia = ctx.media !== null && ((req.method === 'UPDATE' && offered) || req.method === 'INVITE');
  if (withMedia || req.method !== 'BYE') {
    call = await ctx.calls.get(callId).catch(() => undefined);
    if (call && req.method !== 'BYE') ctx.calls.touch(callId).catch(() => undefined);
  }
  const media = withMedia && call?.media === '1';
  if (media && offered) {
    try {
      out.setBody(await exchangeSdp(ctx, callId, sdpExchange({ kind: 'request', method: req.method, requestHadSdp: true, fromTag, toTag })!, req.body.toString()));
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'media.offer failed (in dialog)');
      return void reply(ctx, tx, req, 503, { reason: 'Media Unavailable' });
    }
  }
  const relay = async (res: SipResponse): Promise<void> => {
    res.popVia();
    if (shift > 0) res.set('CSeq', req.get('cseq') ?? '');
    const ex = media && res.status < 300 && hasSdp(res) ? sdpExchange({ kind: 'response', method: req.method, requestHadSdp: offered, fromTag, toTag }) : undefined;
    if (ex) {
      try {
        res.setBody(await exchangeSdp(ctx, callId, ex, res.body.toString()));
      } catch (err) {
        log.warn({ err: (err as Error).message, op: ex.op }, 'media offer/answer failed (in dialog); SDP relayed unchanged');
      }
    }
    respond(ctx, tx, req.method, res);
  };

  const user: ClientTransactionUser = {
    onProvisional: (res) => {
      if (res.status !== 100) void relay(res);
    },
    onFinal: (res, _t, origin) => {
      if (req.method === 'BYE') void endCall(ctx, callId, res.status, res.reason, log);
      if (origin !== 'network') return void reply(ctx, tx, req, res.status);
      void relay(res);
    },
  };
  // deterministic: the other node gives a retransmission of this request the same branch (routing/branch.ts)
  out.pushVia(ourVia(ctx, dialogBranch(req, ctx.config.auth.nonce_secret)));
  let client;
  try {
    client = ctx.sip.sendRequest(out, dest, user);
  } catch (err) {
    // a copy of a request whose server transaction here has ended while our client transaction
    // for it lives on (a UA resending an old request): forwarded as a transaction of its own
    if ((err as { code?: string }).code !== 'duplicate-transaction') throw err;
    log.debug({ method: req.method }, 'branch of this request in use here; forwarded with a new one');
    out.popVia();
    out.pushVia(ourVia(ctx, newBranch()));
    client = ctx.sip.sendRequest(out, dest, user);
  }
  if (req.method === 'INVITE') tx.user = { onCancel: () => void client.cancel() };
}

const END_CALL_ATTEMPTS = 20;
const END_CALL_RETRY_MS = 250;

/** The call is over (BYE answered): media deleted, `call:` removed, stop record. Idempotent. */
export async function endCall(ctx: ProxyContext, callId: string, status: number, reason: string, log: Log = ctx.logger): Promise<void> {
  let call: CallRecord | undefined;
  // At a takeover the shared IP moves before hbd promotes this node's Redis: a BYE answered
  // in that window meets a read-only replica. Try again for a while (the steps take ~0.1 s),
  // or the stop record would be lost.
  for (let attempt = 1; ; attempt++) {
    try {
      call = await ctx.calls.remove(callId);
      break;
    } catch (err) {
      const msg = (err as Error).message;
      if (attempt >= END_CALL_ATTEMPTS || !/READONLY|EXECABORT|LOADING|Connection is closed|ECONNREFUSED|MASTERDOWN/i.test(msg)) {
        log.warn({ err: msg, attempts: attempt }, 'call removal failed');
        return;
      }
      await new Promise((r) => setTimeout(r, END_CALL_RETRY_MS));
    }
  }
  if (!call) return;
  if (call.media === '1' && ctx.media) {
    timedMedia(ctx, 'delete', () => ctx.media!.delete({ call_id: callId })).catch((err: Error) => log.warn({ err: err.message }, 'media.delete failed'));
  }
  ctx.acc.write({
    method: 'BYE', callid: call.caller_call_id || callId, from_tag: call.from_tag ?? '', to_tag: call.to_tag ?? '', sip_code: String(status), sip_reason: reason.slice(0, 128), time: new Date(),
    src_user: call.caller_user ?? null, src_domain: call.caller_domain ?? null, src_ip: call.src_ip ?? null,
    dst_user: call.callee_user ?? null, dst_domain: call.callee_domain ?? null, dst_ouser: call.dialled ?? null,
    src_subscriber_id: call.caller_subscriber_id ? Number(call.caller_subscriber_id) : null,
    dst_subscriber_id: call.callee_subscriber_id ? Number(call.callee_subscriber_id) : null,
    peering_server_id: call.peer_id ? Number(call.peer_id) : null,
    call_type: callType(call.call_type),
  });
}

/**
 * ACK for a 2xx (and any ACK no transaction took): forwarded statelessly along its Route.
 * One with no Route of ours is the hop-by-hop ACK for an error response whose INVITE
 * transaction this process does not have (the other node forwarded the INVITE): absorbed.
 */
export function forwardAck(ctx: ProxyContext, ack: SipRequest): void {
  const r = routed(ctx, ack);
  if ('error' in r && r.notOurs) return absorbAck(ctx);
  if ('error' in r) {
    ctx.metrics.drops.inc({ reason: 'ack-not-routable' });
    return;
  }
  r.out.pushVia(ourVia(ctx, dialogBranch(ack, ctx.config.auth.nonce_secret)));
  // an ACK with SDP is the answer to a late offer (the 2xx of an INVITE without SDP): through mediactl first
  const send = (): void => void ctx.sip.send(r.out, r.dest).catch(() => ctx.metrics.drops.inc({ reason: 'ack-send-failed' }));
  if (ctx.media !== null && hasSdp(ack)) return void answerInAck(ctx, ack, r.out).finally(send);
  send();
}

/** The late offer's answer in an ACK through mediactl (the ACK is forwarded unchanged if that fails: it cannot be refused). */
async function answerInAck(ctx: ProxyContext, ack: SipRequest, out: SipRequest): Promise<void> {
  const callId = ack.callId();
  const log = lazyChild(ctx.logger, { component: 'dialog', callId });
  try {
    const call = await ctx.calls.get(callId);
    if (call?.media !== '1') return;
    const ex = sdpExchange({ kind: 'ack', method: 'INVITE', requestHadSdp: false, fromTag: ack.from().tag ?? '', toTag: ack.to().tag ?? '' })!;
    out.setBody(await exchangeSdp(ctx, callId, ex, ack.body.toString()));
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'media.answer of an ACK failed; ACK forwarded unchanged');
  }
}
