/**
 * The MWI relay (docs/routing.md "Voicemail", features/voicemail.ts): an out-of-dialog NOTIFY
 * with `Event: message-summary` (RFC 3842) from the app-server to a local AoR goes to every
 * registered contact of the subscriber, in parallel, through the lb (the binding's Path, as a
 * call's branches do). The app-server gets the first 2xx a device sends; when none does, the
 * best final (RFC 3261 §16.7), or 404 when the AoR has no binding. Anyone but the app-server
 * gets 403: a client must not light another subscriber's message lamp.
 */
import type { ServerTransaction, SipRequest, SipResponse, TransportSource as Source } from '@ngcp/sip';
import { createResponse, newBranch, newTag } from '@ngcp/sip';
import { copyRequest, decrementMaxForwards, ourVia, reply, respond, type ProxyContext } from '../context.js';
import { admitMwi, mwiFinal } from '../features/voicemail.js';
import { bindingDestination } from '../routing/uri-destination.js';

export async function relayMwiNotify(ctx: ProxyContext, tx: ServerTransaction, req: SipRequest, source: Source): Promise<void> {
  const at = ctx.appserver;
  const fromAppserver = !!at && !!ctx.voicemail && source.address === at.address && source.port === at.port;
  const admission = admitMwi(fromAppserver, req.requestUri());
  const log = ctx.logger.child({ component: 'mwi', callId: req.callId() });
  if (!admission.ok) {
    ctx.metrics.mwi.inc({ result: admission.result });
    log.info({ source: `${source.address}:${source.port}`, status: admission.status }, 'MWI NOTIFY refused');
    return void reply(ctx, tx, req, admission.status, { reason: admission.reason });
  }
  const bindings = await ctx.location.lookup(admission.aor);
  const branches = bindings.flatMap((b) => {
    const dest = bindingDestination(b);
    return dest ? [{ binding: b, dest }] : [];
  });
  if (branches.length === 0) {
    ctx.metrics.mwi.inc({ result: 'no-binding' });
    log.debug({ aor: admission.aor, bindings: bindings.length }, 'MWI NOTIFY for an AoR without a usable binding');
    return void reply(ctx, tx, req, 404, { reason: 'Not Registered' });
  }
  const finals: Array<{ status: number; res?: SipResponse }> = [];
  let answered = false;
  const answer = (res: SipResponse): void => {
    answered = true;
    res.popVia();
    respond(ctx, tx, 'NOTIFY', res);
  };
  for (const { binding, dest } of branches) {
    const out = copyRequest(req);
    out.uri = binding.contact;
    out.remove('route');
    for (const p of binding.path ?? []) out.append('Route', p);
    decrementMaxForwards(out);
    out.pushVia(ourVia(ctx, newBranch()));
    ctx.sip.sendRequest(out, dest, {
      onFinal: (res, _tx, origin) => {
        finals.push({ status: res.status, ...(origin === 'network' ? { res } : {}) });
        // the first device that took it: the app-server's answer (the others finish unheard)
        if (!answered && res.status >= 200 && res.status < 300 && origin === 'network') {
          ctx.metrics.mwi.inc({ result: 'delivered' });
          return answer(res);
        }
        if (answered || finals.length < branches.length) return;
        ctx.metrics.mwi.inc({ result: 'failed' });
        const best = mwiFinal(finals.map((f) => f.status))!;
        log.info({ aor: admission.aor, statuses: finals.map((f) => f.status) }, 'MWI NOTIFY taken by no device');
        const chosen = finals[best.index]!;
        if (chosen.res && chosen.res.status === best.status) return answer(chosen.res);
        answered = true;
        respond(ctx, tx, 'NOTIFY', createResponse(req, best.status, { toTag: newTag() }));
      },
    });
  }
}
