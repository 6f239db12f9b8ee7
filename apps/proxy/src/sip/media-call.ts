/** A media.* call to mediactl, timed into `media_rpc_seconds{method}`. */
import type { ProxyContext } from '../context.js';

export async function timedMedia<T>(ctx: ProxyContext, method: 'offer' | 'answer' | 'delete', fn: () => Promise<T>): Promise<T> {
  const end = ctx.metrics.mediaRpc.startTimer({ method: `media.${method}` });
  try {
    return await fn();
  } finally {
    end();
  }
}
