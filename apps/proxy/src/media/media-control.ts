/**
 * The proxy's side of the media contract (docs/calls.md): mediactl's JSON-RPC methods
 * `media.offer`, `media.answer`, `media.delete`. The proxy never speaks the ng protocol.
 * Any failure (mediactl unreachable, error answer such as UNAVAILABLE -32001) rejects:
 * the caller then gets a 503 at once.
 */

export interface MediaOfferParams { call_id: string; from_tag: string; sdp: string; flags?: string[] }
export interface MediaAnswerParams { call_id: string; from_tag: string; to_tag: string; sdp: string; flags?: string[] }
export interface MediaDeleteParams { call_id: string; from_tag?: string; to_tag?: string }
export interface MediaSdpResult { sdp: string; instance?: string }

export interface MediaControl {
  offer(p: MediaOfferParams): Promise<MediaSdpResult>;
  answer(p: MediaAnswerParams): Promise<MediaSdpResult>;
  delete(p: MediaDeleteParams): Promise<{ deleted: boolean }>;
}

/** Anything with JSON-RPC `call` — production passes `@ngcp/rpc` RpcClient. */
export interface RpcCaller {
  call<T = unknown>(method: string, params?: unknown): Promise<T>;
}

export function rpcMediaControl(rpc: RpcCaller): MediaControl {
  const sdpResult = (r: unknown, method: string): MediaSdpResult => {
    if (typeof r !== 'object' || r === null || typeof (r as MediaSdpResult).sdp !== 'string') throw new Error(`${method}: result without sdp`);
    return r as MediaSdpResult;
  };
  return {
    offer: async (p) => sdpResult(await rpc.call('media.offer', p), 'media.offer'),
    answer: async (p) => sdpResult(await rpc.call('media.answer', p), 'media.answer'),
    delete: async (p) => {
      const r = await rpc.call<{ deleted?: boolean }>('media.delete', p);
      return { deleted: r?.deleted === true };
    },
  };
}
