/** A media.* call to mediactl, timed into `media_rpc_seconds{method}`. */
import type { ProxyContext } from '../context.js';
import type { SdpExchange } from './sdp-exchange.js';

export async function timedMedia<T>(ctx: ProxyContext, method: 'offer' | 'answer' | 'delete', fn: () => Promise<T>): Promise<T> {
  const end = ctx.metrics.mediaRpc.startTimer({ method: `media.${method}` });
  try {
    return await fn();
  } finally {
    end();
  }
}

/** Run one offer/answer step (see sdp-exchange.ts) through mediactl; resolves with the rewritten SDP. */
export async function exchangeSdp(ctx: ProxyContext, callId: string, ex: SdpExchange, sdp: string): Promise<string> {
  const r = ex.op === 'offer'
    ? await timedMedia(ctx, 'offer', () => ctx.media!.offer({ call_id: callId, from_tag: ex.fromTag, sdp }))
    : await timedMedia(ctx, 'answer', () => ctx.media!.answer({ call_id: callId, from_tag: ex.fromTag, to_tag: ex.toTag, sdp }));
  return r.sdp;
}
