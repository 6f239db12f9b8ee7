/**
 * Requests inside a dialog we record-routed (RFC 3261 §16.4, §16.12): loose-routed by their
 * Route headers alone, so a restarted proxy carries on every established call. BYE ends the
 * call: media deleted, `call:<id>` removed, a stop accounting record. re-INVITE/UPDATE SDP
 * goes through mediactl when the call's media is relayed. ACK for a 2xx is forwarded
 * statelessly (it is not a transaction).
 */
import type { Destination, ServerTransaction, SipRequest, SipResponse, TransportSource as Source } from '@ngcp/sip';
import { newBranch } from '@ngcp/sip';
import { copyRequest, decrementMaxForwards, hasSdp, ourVia, reply, respond, type ProxyContext } from '../context.js';
import { planLooseRoute } from '../routing/loose-route.js';
import type { CallRecord } from '../store/call-store.js';
import { timedMedia } from './media-call.js';
import { absorbAck } from './takeover.js';

/** Copy, pop our Route entries, decrement Max-Forwards; undefined when not routable. */
function routed(ctx: ProxyContext, req: SipRequest): { out: SipRequest; dest: Destination } | { error: number; reason: string; notOurs?: true } {
  const plan = planLooseRoute(req.routes(), req.requestUri(), ctx.self);
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
  return { out, dest: plan.next };
}

export async function handleInDialog(ctx: ProxyContext, tx: ServerTransaction, req: SipRequest, _source: Source): Promise<void> {
  const r = routed(ctx, req);
  if ('error' in r) return void reply(ctx, tx, req, r.error, { reason: r.reason });
  const { out, dest } = r;
  const callId = req.callId();
  const fromTag = req.from().tag ?? '';
  const toTag = req.to().tag ?? '';
  const log = ctx.logger.child({ component: 'dialog', callId });
  let call: CallRecord | undefined;
  const withMedia = ctx.media !== null && (req.method === 'INVITE' || req.method === 'UPDATE') && hasSdp(req);
  if (withMedia || req.method !== 'BYE') {
    call = await ctx.calls.get(callId).catch(() => undefined);
    if (call && req.method !== 'BYE') ctx.calls.touch(callId).catch(() => undefined);
  }
  const media = withMedia && call?.media === '1';
  if (media) {
    try {
      const res = await timedMedia(ctx, 'offer', () => ctx.media!.offer({ call_id: callId, from_tag: fromTag, sdp: req.body.toString() }));
      out.setBody(res.sdp);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'media.offer failed (in dialog)');
      return void reply(ctx, tx, req, 503, { reason: 'Media Unavailable' });
    }
  }
  out.pushVia(ourVia(ctx, newBranch()));

  const relay = async (res: SipResponse): Promise<void> => {
    res.popVia();
    if (media && res.status < 300 && hasSdp(res)) {
      try {
        const a = await timedMedia(ctx, 'answer', () => ctx.media!.answer({ call_id: callId, from_tag: fromTag, to_tag: toTag, sdp: res.body.toString() }));
        res.setBody(a.sdp);
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'media.answer failed (in dialog); SDP relayed unchanged');
      }
    }
    respond(ctx, tx, req.method, res);
  };

  const client = ctx.sip.sendRequest(out, dest, {
    onProvisional: (res) => {
      if (res.status !== 100) void relay(res);
    },
    onFinal: (res, _t, origin) => {
      if (req.method === 'BYE') void endCall(ctx, callId, res.status, res.reason, log);
      if (origin !== 'network') return void reply(ctx, tx, req, res.status);
      void relay(res);
    },
  });
  if (req.method === 'INVITE') tx.user = { onCancel: () => void client.cancel() };
}

/** The call is over (BYE answered): media deleted, `call:` removed, stop record. Idempotent. */
export async function endCall(ctx: ProxyContext, callId: string, status: number, reason: string, log = ctx.logger): Promise<void> {
  let call: CallRecord | undefined;
  try {
    call = await ctx.calls.remove(callId);
  } catch (err) {
    log.warn({ err: (err as Error).message }, 'call removal failed');
    return;
  }
  if (!call) return;
  if (call.media === '1' && ctx.media) {
    timedMedia(ctx, 'delete', () => ctx.media!.delete({ call_id: callId })).catch((err: Error) => log.warn({ err: err.message }, 'media.delete failed'));
  }
  ctx.acc.write({
    method: 'BYE', callid: callId, from_tag: call.from_tag ?? '', to_tag: call.to_tag ?? '', sip_code: String(status), sip_reason: reason.slice(0, 128), time: new Date(),
    src_user: call.caller_user ?? null, src_domain: call.caller_domain ?? null, src_ip: call.src_ip ?? null,
    dst_user: call.callee_user ?? null, dst_domain: call.callee_domain ?? null, dst_ouser: call.dialled ?? null,
    src_subscriber_id: call.caller_subscriber_id ? Number(call.caller_subscriber_id) : null,
    dst_subscriber_id: call.callee_subscriber_id ? Number(call.callee_subscriber_id) : null,
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
  r.out.pushVia(ourVia(ctx, newBranch()));
  ctx.sip.send(r.out, r.dest).catch(() => ctx.metrics.drops.inc({ reason: 'ack-send-failed' }));
}
