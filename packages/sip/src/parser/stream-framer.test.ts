import { describe, expect, it } from 'vitest';
import { StreamFramer } from './stream-framer.js';

const m1 = 'OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nContent-Length: 5\r\n\r\nhello';
const m2 = 'SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nl: 0\r\n\r\n';

describe('StreamFramer (RFC 3261 §18.3, RFC 5626 §3.5.1)', () => {
  it('frames several messages in one chunk', () => {
    const f = new StreamFramer();
    const ev = f.push(Buffer.from(m1 + m2));
    expect(ev.map((e) => e.type)).toEqual(['message', 'message']);
    expect(ev[0]!.type === 'message' && ev[0]!.bytes.toString()).toBe(m1);
    expect(f.pending).toBe(0);
  });

  it('frames a message delivered byte by byte', () => {
    const f = new StreamFramer();
    const all = Buffer.from(m1 + m2);
    const out: string[] = [];
    for (let i = 0; i < all.length; i++) for (const e of f.push(all.subarray(i, i + 1))) if (e.type === 'message') out.push(e.bytes.toString());
    expect(out).toEqual([m1, m2]);
  });

  it('reports CRLFCRLF pings and skips CRLF pongs between messages', () => {
    const f = new StreamFramer();
    expect(f.push(Buffer.from('\r\n\r\n')).map((e) => e.type)).toEqual(['ping']);
    expect(f.push(Buffer.from('\r\n' + m2)).map((e) => e.type)).toEqual(['pong', 'message']);
  });

  it('fails the stream without Content-Length or beyond the size limit', () => {
    const noCl = new StreamFramer().push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nVia: x\r\n\r\n'));
    expect(noCl[0]!.type === 'error' && noCl[0]!.error.status).toBe(400);
    const big = new StreamFramer({ maxMessageSize: 100 }).push(Buffer.from('OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 500\r\n\r\n'));
    expect(big[0]!.type === 'error' && big[0]!.error.status).toBe(513);
    const f = new StreamFramer({ maxMessageSize: 64 });
    expect(f.push(Buffer.from('X'.repeat(100))).map((e) => e.type)).toEqual(['error']);
    expect(f.push(Buffer.from(m2))).toEqual([]); // the connection is done
  });
});
