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

/** Anything with JSON-RPC `call` — `@ngcp/rpc` RpcClient has this shape. */
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

/** JSON-RPC error answer or transport failure of a mediactl call. */
export class MediaRpcError extends Error {
  override readonly name = 'MediaRpcError';
  constructor(readonly code: number, message: string) {
    super(message);
  }
}

/**
 * A minimal JSON-RPC 2.0 over HTTP POST client (fetch, keep-alive by default), used until
 * the proxy is wired to `@ngcp/rpc` RpcClient. Refused/timeout → code -32001 (UNAVAILABLE).
 */
export function httpJsonRpc(url: string, timeoutMs: number): RpcCaller {
  let id = 0;
  return {
    async call<T>(method: string, params?: unknown): Promise<T> {
      let body: { result?: T; error?: { code: number; message: string } };
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ jsonrpc: '2.0', id: ++id, method, params }),
          signal: AbortSignal.timeout(timeoutMs),
        });
        body = (await res.json()) as typeof body;
      } catch (err) {
        throw new MediaRpcError(-32001, `mediactl unreachable: ${(err as Error).message}`);
      }
      if (body.error) throw new MediaRpcError(body.error.code, body.error.message);
      return body.result as T;
    },
  };
}
