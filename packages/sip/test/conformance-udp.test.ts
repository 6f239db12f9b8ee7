/**
 * RFC 4475 / RFC 5118 through a real UDP socket: each fixture is sent as one
 * datagram to a TransportLayer on 127.0.0.1 (the load-balancer's configuration:
 * role lb, force_rport, maddr ignored). Accepted messages reach the handler,
 * rejected requests get their status back on the sender's socket, dropped ones
 * get nothing and are counted.
 */
import { createSocket } from 'node:dgram';
import type { Socket } from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SipMessage } from '../src/index.js';
import { TransportLayer, parseMessage } from '../src/index.js';
import { cases, expectedAction, fixtureBytes } from './fixtures.js';

let layer: TransportLayer;
let client: Socket;
let port = 0;
const delivered: SipMessage[] = [];
const answers: Buffer[] = [];

const totalDropped = () => Object.values(layer.stats().dropped).reduce((a, b) => a + (b ?? 0), 0);

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((r) => setTimeout(r, 2));
  }
  return cond();
}

beforeAll(async () => {
  layer = new TransportLayer({ role: 'lb', forceRport: true, honorMaddr: false, onMessage: (m) => void delivered.push(m) });
  const [l] = await layer.listen([{ transport: 'udp', address: '127.0.0.1', port: 0 }]);
  port = l!.port;
  client = createSocket('udp4');
  client.on('message', (b) => answers.push(b));
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
});

afterAll(async () => {
  client.close();
  await layer.close();
});

describe('RFC 4475 / 5118 fixtures over UDP', () => {
  for (const { f } of cases.filter((c) => c.transport === 'udp')) {
    const want = expectedAction(f.lb);
    it(`${f.file}: ${want}${f.lb.status ? ` ${f.lb.status}` : ''}`, async () => {
      delivered.length = 0;
      answers.length = 0;
      const dropped0 = totalDropped();
      client.send(fixtureBytes(f), port, '127.0.0.1');
      if (want === 'accept') {
        expect(await until(() => delivered.length === 1, 5000)).toBe(true);
        const m = delivered[0]!;
        expect(m.kind).toBe(f.kind);
        if (m.kind === 'request') expect(m.method).toBe(f.method);
        expect(answers).toEqual([]);
      } else if (want === 'reject') {
        expect(await until(() => answers.length === 1, 5000)).toBe(true);
        const res = parseMessage(answers[0]!);
        expect(res.kind).toBe('response');
        if (res.kind === 'response') expect(res.status).toBe(f.lb.status);
        expect(delivered).toEqual([]);
      } else {
        expect(await until(() => totalDropped() > dropped0, 5000)).toBe(true);
        await new Promise((r) => setTimeout(r, 20));
        expect(answers).toEqual([]);
        expect(delivered).toEqual([]);
      }
    });
  }
});
