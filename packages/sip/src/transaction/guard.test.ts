/**
 * The TU-answer guard (not in RFC 3261): a server transaction whose TU never sends a
 * final response is answered 500 by the layer after tuTimeoutNonInvite (default
 * 64·T1) / tuTimeoutInvite (default 5 min), then completes and is freed as usual.
 */
import { describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipResponse } from '../message/message.js';
import { TransactionLayer } from './manager.js';
import { FakeClock, RecordingTransport, sampleRequest } from './testing.js';
import type { TimerConfig } from './timers.js';
import type { TransactionUser } from './transaction.js';
import type { Destination } from '../message/transports.js';

const SRC: Destination = { transport: 'UDP', address: '198.51.100.7', port: 5060 };

function setup(timers: Partial<TimerConfig> = {}, onRequest: TransactionUser['onRequest'] = () => undefined) {
  const clock = new FakeClock();
  const transport = new RecordingTransport(clock);
  const layer = new TransactionLayer({ transport, scheduler: clock, timers, user: { onRequest } });
  const finals = () => transport.sent.map((s) => s.message).filter((m): m is SipResponse => m.kind === 'response' && m.status >= 200);
  return { clock, layer, finals };
}

describe('TU-answer guard', () => {
  it('answers a non-INVITE the TU ignores with 500 after 64·T1, then frees it', () => {
    const { clock, layer, finals } = setup();
    layer.receive(sampleRequest('OPTIONS'), SRC);
    clock.advance(31_999);
    expect(finals()).toEqual([]);
    clock.advance(1);
    expect(finals().map((r) => r.status)).toEqual([500]);
    expect(finals()[0]!.to().tag).toBeDefined();
    expect(layer.stats().tuTimeouts.nist).toBe(1);
    clock.advance(32_000); // Timer J
    expect(layer.stats().live.nist).toBe(0);
  });

  it('gives an INVITE 5 minutes by default, after 100 Trying', () => {
    const { clock, layer, finals } = setup();
    layer.receive(sampleRequest('INVITE'), SRC);
    clock.advance(299_999);
    expect(finals()).toEqual([]);
    clock.advance(1);
    expect(finals().map((r) => r.status)).toEqual([500]);
    expect(layer.stats().tuTimeouts.ist).toBe(1);
  });

  it('does nothing when the TU answered in time, and can be switched off', () => {
    const answered = setup({}, (tx, req) => void tx.respond(createResponse(req, 200, { toTag: 't' })));
    answered.layer.receive(sampleRequest('OPTIONS'), SRC);
    answered.clock.advance(40_000);
    expect(answered.finals().map((r) => r.status)).toEqual([200]);
    expect(answered.layer.stats().tuTimeouts.nist).toBe(0);

    const off = setup({ tuTimeoutNonInvite: 0 });
    off.layer.receive(sampleRequest('OPTIONS'), SRC);
    off.clock.advance(600_000);
    expect(off.finals()).toEqual([]);
    expect(off.layer.stats().live.nist).toBe(1);
  });
});

