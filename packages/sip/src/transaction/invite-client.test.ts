import { describe, expect, it } from 'vitest';
import type { IctState } from './invite-client.js';
import { ict, ictStart } from './invite-client.js';
import { sampleRequest, sampleResponse, summarize } from './testing.js';
import { timerValues } from './timers.js';
import type { ClientEvent, Effect } from './types.js';
import { TERMINATED } from './types.js';

const UDP = timerValues({}, false);
const TCP = timerValues({}, true);
const invite = sampleRequest('INVITE', { route: ['<sip:p1.example.com;lr>'] });
const r = (status: number) => sampleResponse(invite, status, status > 100 ? 'a6c85cf' : undefined);
const response = (status: number): ClientEvent => ({ type: 'response', response: r(status) });
const timer = (t: 'A' | 'B' | 'D' | 'M' | 'Cancel'): ClientEvent => ({ type: 'timer', timer: t });
const cancel: ClientEvent = { type: 'cancel' };
const failure: ClientEvent = { type: 'transportError', error: new Error('ECONNRESET') };

const calling: IctState = { name: 'Calling', request: invite, a: 500 };
const proceeding: IctState = { name: 'Proceeding', request: invite, cancelled: false };
const cancelling: IctState = { name: 'Proceeding', request: invite, cancelled: true };
const completed: IctState = { name: 'Completed', ack: sampleRequest('ACK', { cseqMethod: 'ACK' }) };
const accepted: IctState = { name: 'Accepted' };

/** TU notifications and terminate come after all I/O (types.ts). */
function ordered(effects: readonly Effect[]): boolean {
  const io = (e: Effect) => e.type === 'send' || e.type === 'startTimer' || e.type === 'stopTimer';
  const firstTu = effects.findIndex((e) => !io(e));
  return firstTu < 0 || effects.slice(firstTu).every((e) => !io(e));
}

describe('ICT start (§17.1.1.2)', () => {
  it('sends the INVITE, starts A = T1 and B = 64*T1 on UDP', () => {
    const tr = ictStart(invite, UDP);
    expect(tr.state).toEqual({ name: 'Calling', request: invite, a: 500 });
    expect(summarize(tr.effects)).toEqual(['send INVITE', 'start A 500', 'start B 32000']);
  });
  it('starts no Timer A on a reliable transport', () => {
    expect(summarize(ictStart(invite, TCP).effects)).toEqual(['send INVITE', 'start B 32000']);
  });
  it('takes T1 from the configuration', () => {
    expect(summarize(ictStart(invite, timerValues({ T1: 100 }, false)).effects)).toEqual(['send INVITE', 'start A 100', 'start B 6400']);
  });
});

interface Row {
  name: string;
  from: IctState;
  event: ClientEvent;
  timers?: typeof UDP;
  to: IctState['name'];
  effects: string[];
}

const rows: Row[] = [
  // Calling
  { name: 'Calling + Timer A → retransmit, double A', from: calling, event: timer('A'), to: 'Calling', effects: ['send INVITE retx', 'start A 1000'] },
  { name: 'Calling + Timer B → timeout, Terminated', from: calling, event: timer('B'), to: 'Terminated', effects: ['timeout B', 'terminate'] },
  { name: 'Calling + 100 → Proceeding', from: calling, event: response(100), to: 'Proceeding', effects: ['stop A', 'stop B', 'pass 100'] },
  { name: 'Calling + 180 → Proceeding', from: calling, event: response(180), to: 'Proceeding', effects: ['stop A', 'stop B', 'pass 180'] },
  { name: 'Calling + 180 on TCP → Proceeding', from: calling, event: response(180), timers: TCP, to: 'Proceeding', effects: ['stop B', 'pass 180'] },
  { name: 'Calling + 200 → Accepted, Timer M (RFC 6026)', from: calling, event: response(200), to: 'Accepted', effects: ['stop A', 'stop B', 'start M 32000', 'pass 200'] },
  { name: 'Calling + 486 → Completed, ACK, Timer D', from: calling, event: response(486), to: 'Completed', effects: ['stop A', 'stop B', 'send ACK', 'start D 32000', 'pass 486'] },
  { name: 'Calling + 486 on TCP → ACK, Terminated (D = 0)', from: calling, event: response(486), timers: TCP, to: 'Terminated', effects: ['stop B', 'send ACK', 'pass 486', 'terminate'] },
  { name: 'Calling + 302 → Completed', from: calling, event: response(302), to: 'Completed', effects: ['stop A', 'stop B', 'send ACK', 'start D 32000', 'pass 302'] },
  { name: 'Calling + transport error → Terminated', from: calling, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  { name: 'Calling + stray Timer D → nothing', from: calling, event: timer('D'), to: 'Calling', effects: [] },
  // Proceeding
  { name: 'Proceeding + 180 → pass', from: proceeding, event: response(180), to: 'Proceeding', effects: ['pass 180'] },
  { name: 'Proceeding + 200 → Accepted', from: proceeding, event: response(200), to: 'Accepted', effects: ['start M 32000', 'pass 200'] },
  { name: 'Proceeding + 603 → Completed', from: proceeding, event: response(603), to: 'Completed', effects: ['send ACK', 'start D 32000', 'pass 603'] },
  { name: 'Proceeding + Timer A (late) → nothing', from: proceeding, event: timer('A'), to: 'Proceeding', effects: [] },
  { name: 'Proceeding + Timer B (late) → nothing', from: proceeding, event: timer('B'), to: 'Proceeding', effects: [] },
  { name: 'Proceeding + transport error → nothing', from: proceeding, event: failure, to: 'Proceeding', effects: [] },
  // CANCEL sent (§9.1)
  { name: 'Calling + cancel → nothing (CANCEL waits for a 1xx)', from: calling, event: cancel, to: 'Calling', effects: [] },
  { name: 'Proceeding + cancel → Cancel timer 64*T1', from: proceeding, event: cancel, to: 'Proceeding', effects: ['start Cancel 32000'] },
  { name: 'Proceeding (cancelled) + cancel again → nothing', from: cancelling, event: cancel, to: 'Proceeding', effects: [] },
  { name: 'Proceeding (cancelled) + 487 → Completed, Cancel timer stopped', from: cancelling, event: response(487), to: 'Completed', effects: ['stop Cancel', 'send ACK', 'start D 32000', 'pass 487'] },
  { name: 'Proceeding (cancelled) + 200 → Accepted', from: cancelling, event: response(200), to: 'Accepted', effects: ['stop Cancel', 'start M 32000', 'pass 200'] },
  { name: 'Proceeding (cancelled) + Cancel timer → timeout, Terminated', from: cancelling, event: timer('Cancel'), to: 'Terminated', effects: ['timeout Cancel', 'terminate'] },
  { name: 'Proceeding + Cancel timer (late) → nothing', from: proceeding, event: timer('Cancel'), to: 'Proceeding', effects: [] },
  { name: 'Completed + cancel → nothing', from: { name: 'Completed', ack: sampleRequest('ACK') }, event: cancel, to: 'Completed', effects: [] },
  { name: 'Accepted + cancel → nothing', from: { name: 'Accepted' }, event: cancel, to: 'Accepted', effects: [] },
  // Completed
  { name: 'Completed + 486 retransmission → ACK again, not to TU', from: completed, event: response(486), to: 'Completed', effects: ['send ACK retx'] },
  { name: 'Completed + 180 → nothing', from: completed, event: response(180), to: 'Completed', effects: [] },
  { name: 'Completed + 200 → nothing', from: completed, event: response(200), to: 'Completed', effects: [] },
  { name: 'Completed + Timer D → Terminated', from: completed, event: timer('D'), to: 'Terminated', effects: ['terminate'] },
  { name: 'Completed + transport error → Terminated', from: completed, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  // Accepted (RFC 6026)
  { name: 'Accepted + 200 retransmission → pass', from: accepted, event: response(200), to: 'Accepted', effects: ['pass 200'] },
  { name: 'Accepted + 180 → nothing', from: accepted, event: response(180), to: 'Accepted', effects: [] },
  { name: 'Accepted + 486 → nothing', from: accepted, event: response(486), to: 'Accepted', effects: [] },
  { name: 'Accepted + Timer M → Terminated', from: accepted, event: timer('M'), to: 'Terminated', effects: ['terminate'] },
  { name: 'Accepted + transport error → nothing', from: accepted, event: failure, to: 'Accepted', effects: [] },
  // Terminated
  { name: 'Terminated + 200 → nothing', from: TERMINATED, event: response(200), to: 'Terminated', effects: [] },
  { name: 'Terminated + Timer B → nothing', from: TERMINATED, event: timer('B'), to: 'Terminated', effects: [] },
];

describe('ICT transitions (RFC 3261 §17.1.1, RFC 6026 §8.4)', () => {
  it.each(rows)('$name', ({ from, event, timers, to, effects }) => {
    const tr = ict(from, event, timers ?? UDP);
    expect(tr.state.name).toBe(to);
    expect(summarize(tr.effects)).toEqual(effects);
    expect(ordered(tr.effects)).toBe(true);
  });

  it('doubles Timer A without a cap while Calling (B bounds it)', () => {
    let state: IctState = ictStart(invite, UDP).state;
    const intervals: number[] = [];
    for (let i = 0; i < 7; i++) {
      const tr = ict(state, timer('A'), UDP);
      state = tr.state;
      const s = tr.effects.find((e) => e.type === 'startTimer');
      if (s?.type === 'startTimer') intervals.push(s.ms);
    }
    expect(intervals).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 64000]);
  });

  it('drops the request once Completed, keeping only the ACK', () => {
    const tr = ict(calling, response(486), UDP);
    expect(tr.state).not.toHaveProperty('request');
  });
});

describe('ACK for a non-2xx (§17.1.1.3)', () => {
  const tr = ict(calling, response(486), UDP);
  const sent = tr.effects.find((e) => e.type === 'send');
  const ack = sent?.type === 'send' && sent.message.kind === 'request' ? sent.message : undefined;

  it('has the Request-URI, Call-ID, From and CSeq number of the INVITE, method ACK', () => {
    expect(ack?.method).toBe('ACK');
    expect(ack?.uri).toBe(invite.uri);
    expect(ack?.callId()).toBe(invite.callId());
    expect(ack?.get('from')).toBe(invite.get('from'));
    expect(ack?.cseq()).toEqual({ seq: 314159, method: 'ACK' });
  });
  it('has the To of the response, tag included', () => {
    expect(ack?.to().tag).toBe('a6c85cf');
  });
  it('has one Via, equal to the top Via of the INVITE (same branch)', () => {
    expect(ack?.getAll('via')).toEqual(['SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds']);
  });
  it('carries the Route of the INVITE', () => {
    expect(ack?.getAll('route')).toEqual(['<sip:p1.example.com;lr>']);
  });
  it('is resent unchanged on a retransmitted final response', () => {
    const again = ict(tr.state, response(486), UDP).effects[0];
    expect(again?.type === 'send' && again.message).toBe(ack);
  });
});
