import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import { parseMessage } from '../parser/parse.js';
import type { SipResponse } from '../message/message.js';
import { createSipStack, type SipStack } from './stack.js';

const stacks: SipStack[] = [];
afterEach(async () => {
  for (const s of stacks.splice(0)) await s.close();
});

function options(port: number, branch: string): Buffer {
  return Buffer.from(
    `OPTIONS sip:x@127.0.0.1:${port} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=${branch}\r\nMax-Forwards: 70\r\n` +
      `From: <sip:a@127.0.0.1>;tag=1\r\nTo: <sip:x@127.0.0.1>\r\nCall-ID: ${branch}\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n`,
  );
}

/** Send one request over a UDP socket of our own and wait for the final response. */
async function ask(port: number, branch: string): Promise<SipResponse> {
  const sock = createSocket('udp4');
  try {
    return await new Promise<SipResponse>((resolve) => {
      sock.on('message', (b) => {
        const m = parseMessage(b);
        if (m.kind === 'response' && m.status >= 200) resolve(m);
      });
      sock.bind(0, '127.0.0.1', () => {
        // rport: the answer comes back to this socket, not to the Via's port 9
        sock.send(Buffer.from(options(port, branch).toString().replace(';branch', ';rport;branch')), port, '127.0.0.1');
      });
    });
  } finally {
    sock.close();
  }
}

describe('createSipStack', () => {
  it('hands new requests with their transaction and source to onRequest, and answers through it', async () => {
    const seen: string[] = [];
    const sip = createSipStack({
      listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }],
      resolver: false,
      onRequest(tx, req, source) {
        seen.push(`${req.method} ${source.transport} ${source.address}`);
        tx.respond(createResponse(req, 200));
      },
    });
    stacks.push(sip);
    const [l] = await sip.start();
    const res = await ask(l!.port, 'z9hG4bK-stack-1');
    expect(res.status).toBe(200);
    expect(seen).toEqual(['OPTIONS udp 127.0.0.1']);
    expect(sip.stats().transactions.created.nist).toBe(1);
  });

  it('answers 503 with Retry-After to new requests while draining, without calling onRequest', async () => {
    let called = 0;
    const sip = createSipStack({
      listen: [{ transport: 'udp', address: '127.0.0.1', port: 0 }],
      resolver: false,
      drainRetryAfter: 7,
      onRequest(tx, req) {
        called++;
        tx.respond(createResponse(req, 200));
      },
    });
    stacks.push(sip);
    const [l] = await sip.start();
    await sip.drain(1000);
    const res = await ask(l!.port, 'z9hG4bK-stack-2');
    expect(res.status).toBe(503);
    expect(res.get('retry-after')).toBe('7');
    expect(called).toBe(0);
    expect(sip.stats()).toMatchObject({ draining: true, refusedWhileDraining: 1 });
  });

  it('refuses sendWithFailover when made without a resolver', async () => {
    const sip = createSipStack({ listen: [], resolver: false, onRequest: () => undefined });
    stacks.push(sip);
    await expect(sip.sendWithFailover({ host: 'example.invalid' } as never, { build: () => { throw new Error('unused'); } })).rejects.toThrow(/without a resolver/);
  });
});
