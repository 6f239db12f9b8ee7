/**
 * A UDP relay on 127.0.0.1 between a client and a server that loses, per cookie (the bytes
 * before the first space, as in rtpengine's ng protocol), the first request datagram
 * (`lose: 'request'`) or the server's first reply (`lose: 'reply'`). It counts what crossed
 * it: requests by cookie, replies by cookie (their text). For tests of retransmission.
 */
import { createSocket, type RemoteInfo } from 'node:dgram';

export interface LossyRelay {
  /** the port clients send to (127.0.0.1) */
  port: number;
  /** request datagrams seen, by cookie */
  requests: Map<string, number>;
  /** replies seen, by cookie, as latin1 text */
  replies: Map<string, string[]>;
  close: () => Promise<void>;
}

export async function lossyRelay(serverHost: string, serverPort: number, lose: 'request' | 'reply'): Promise<LossyRelay> {
  const front = createSocket('udp4');
  const back = createSocket('udp4');
  const requests = new Map<string, number>();
  const replies = new Map<string, string[]>();
  let client: RemoteInfo | undefined;
  const cookie = (m: Buffer): string => m.subarray(0, Math.max(0, m.indexOf(0x20))).toString('latin1');
  front.on('message', (m, from) => {
    client = from;
    const c = cookie(m);
    const n = (requests.get(c) ?? 0) + 1;
    requests.set(c, n);
    if (lose === 'request' && n === 1) return;
    back.send(m, serverPort, serverHost);
  });
  back.on('message', (m) => {
    const c = cookie(m);
    const seen = replies.get(c) ?? [];
    seen.push(m.toString('latin1'));
    replies.set(c, seen);
    if (lose === 'reply' && seen.length === 1) return;
    if (client) front.send(m, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', r));
  return {
    port: front.address().port,
    requests,
    replies,
    close: async () => {
      await new Promise<void>((r) => front.close(() => r()));
      await new Promise<void>((r) => back.close(() => r()));
    },
  };
}
