import { describe, expect, it } from 'vitest';
import type { IstState } from './invite-server.js';
import { ist, istAcceptsResponse, istStart } from './invite-server.js';
import { sampleRequest, sampleResponse, summarize } from './testing.js';
import { timerValues } from './timers.js';
import type { ServerEvent } from './types.js';
import { TERMINATED } from './types.js';

const UDP = timerValues({}, false);
const TCP = timerValues({}, true);
const invite = sampleRequest('INVITE');
const ack = sampleRequest('ACK', { toTag: 'uas1' });
const res = (status: number) => sampleResponse(invite, status, status > 100 ? 'uas1' : undefined);
const respond = (status: number): ServerEvent => ({ type: 'respond', response: res(status) });
const retransmission: ServerEvent = { type: 'request', request: invite };
const ackEvent: ServerEvent = { type: 'request', request: ack };
const timer = (t: 'G' | 'H' | 'I' | 'L' | 'Trying100'): ServerEvent => ({ type: 'timer', timer: t });
const failure: ServerEvent = { type: 'transportError', error: new Error('EPIPE') };

const fresh: IstState = { name: 'Proceeding', request: invite, provisional: null };
const ringing: IstState = { name: 'Proceeding', request: invite, provisional: res(180) };
const completed: IstState = { name: 'Completed', response: res(486), g: 500 };
const confirmed: IstState = { name: 'Confirmed' };
const accepted: IstState = { name: 'Accepted' };

describe('IST start (§17.2.1)', () => {
  it('starts the 200 ms "send 100 Trying" timer and passes the INVITE to the TU', () => {
    const tr = istStart(invite, UDP);
    expect(tr.state).toEqual(fresh);
    expect(summarize(tr.effects)).toEqual(['start Trying100 200', 'pass INVITE']);
  });
  it('sends 100 at once when configured with 0', () => {
    const tr = istStart(invite, timerValues({ trying100: 0 }, false));
    expect(summarize(tr.effects)).toEqual(['send 100', 'pass INVITE']);
    expect(tr.state.name === 'Proceeding' && tr.state.provisional?.status).toBe(100);
  });
  it('never sends 100 by itself when configured with false', () => {
    expect(summarize(istStart(invite, timerValues({ trying100: false }, false)).effects)).toEqual(['pass INVITE']);
  });
});

interface Row {
  name: string;
  from: IstState;
  event: ServerEvent;
  timers?: typeof UDP;
  to: IstState['name'];
  effects: string[];
}

const rows: Row[] = [
  // Proceeding
  { name: 'Proceeding + Trying100 fires → 100 Trying', from: fresh, event: timer('Trying100'), to: 'Proceeding', effects: ['send 100'] },
  { name: 'Proceeding + Trying100 after a 1xx → nothing', from: ringing, event: timer('Trying100'), to: 'Proceeding', effects: [] },
  { name: 'Proceeding + INVITE retransmission → last provisional again', from: ringing, event: retransmission, to: 'Proceeding', effects: ['send 180 retx'] },
  { name: 'Proceeding + INVITE retransmission, nothing sent yet → absorbed', from: fresh, event: retransmission, to: 'Proceeding', effects: [] },
  { name: 'Proceeding + 180 from TU → sent, Trying100 stopped', from: fresh, event: respond(180), to: 'Proceeding', effects: ['stop Trying100', 'send 180'] },
  { name: 'Proceeding + 183 after 180 → sent', from: ringing, event: respond(183), to: 'Proceeding', effects: ['send 183'] },
  { name: 'Proceeding + 200 from TU → Accepted, Timer L (RFC 6026)', from: ringing, event: respond(200), to: 'Accepted', effects: ['send 200', 'start L 32000'] },
  { name: 'Proceeding + 200 before any 1xx → Accepted', from: fresh, event: respond(200), to: 'Accepted', effects: ['stop Trying100', 'send 200', 'start L 32000'] },
  { name: 'Proceeding + 486 from TU → Completed, G = T1, H = 64*T1', from: ringing, event: respond(486), to: 'Completed', effects: ['send 486', 'start G 500', 'start H 32000'] },
  { name: 'Proceeding + 486 on TCP → Completed, no G', from: ringing, event: respond(486), timers: TCP, to: 'Completed', effects: ['send 486', 'start H 32000'] },
  { name: 'Proceeding + stray ACK → ignored', from: ringing, event: ackEvent, to: 'Proceeding', effects: [] },
  { name: 'Proceeding + transport error → TU informed, stays (RFC 6026 Fig. 7)', from: ringing, event: failure, to: 'Proceeding', effects: ['transport-error'] },
  // Completed
  { name: 'Completed + INVITE retransmission → final again', from: completed, event: retransmission, to: 'Completed', effects: ['send 486 retx'] },
  { name: 'Completed + Timer G → final again, G doubled', from: completed, event: timer('G'), to: 'Completed', effects: ['send 486 retx', 'start G 1000'] },
  { name: 'Completed + Timer H → timeout, Terminated', from: completed, event: timer('H'), to: 'Terminated', effects: ['timeout H', 'terminate'] },
  { name: 'Completed + ACK → Confirmed, Timer I = T4', from: completed, event: ackEvent, to: 'Confirmed', effects: ['stop G', 'stop H', 'start I 5000'] },
  { name: 'Completed + ACK on TCP → Terminated (I = 0)', from: completed, event: ackEvent, timers: TCP, to: 'Terminated', effects: ['stop H', 'terminate'] },
  { name: 'Completed + response from TU → discarded', from: completed, event: respond(500), to: 'Completed', effects: [] },
  { name: 'Completed + transport error → TU informed, stays', from: completed, event: failure, to: 'Completed', effects: ['transport-error'] },
  // Confirmed
  { name: 'Confirmed + ACK → absorbed', from: confirmed, event: ackEvent, to: 'Confirmed', effects: [] },
  { name: 'Confirmed + INVITE retransmission → absorbed', from: confirmed, event: retransmission, to: 'Confirmed', effects: [] },
  { name: 'Confirmed + Timer G (late) → nothing', from: confirmed, event: timer('G'), to: 'Confirmed', effects: [] },
  { name: 'Confirmed + Timer I → Terminated', from: confirmed, event: timer('I'), to: 'Terminated', effects: ['terminate'] },
  // Accepted (RFC 6026)
  { name: 'Accepted + INVITE retransmission → absorbed, not to TU', from: accepted, event: retransmission, to: 'Accepted', effects: [] },
  { name: 'Accepted + ACK → to TU', from: accepted, event: ackEvent, to: 'Accepted', effects: ['pass ACK'] },
  { name: 'Accepted + 2xx from TU → sent (TU retransmission)', from: accepted, event: respond(200), to: 'Accepted', effects: ['send 200 retx'] },
  { name: 'Accepted + 486 from TU → discarded', from: accepted, event: respond(486), to: 'Accepted', effects: [] },
  { name: 'Accepted + Timer L → Terminated', from: accepted, event: timer('L'), to: 'Terminated', effects: ['terminate'] },
  { name: 'Accepted + transport error → TU informed, stays', from: accepted, event: failure, to: 'Accepted', effects: ['transport-error'] },
  // Terminated
  { name: 'Terminated + INVITE → nothing', from: TERMINATED, event: retransmission, to: 'Terminated', effects: [] },
];

describe('IST transitions (RFC 3261 §17.2.1, RFC 6026 §7.1, §8.7)', () => {
  it.each(rows)('$name', ({ from, event, timers, to, effects }) => {
    const tr = ist(from, event, timers ?? UDP);
    expect(tr.state.name).toBe(to);
    expect(summarize(tr.effects)).toEqual(effects);
  });

  it('caps Timer G at T2: 500, 1000, 2000, 4000, 4000', () => {
    let state: IstState = completed;
    const intervals: number[] = [500];
    for (let i = 0; i < 4; i++) {
      const tr = ist(state, timer('G'), UDP);
      state = tr.state;
      const s = tr.effects.find((e) => e.type === 'startTimer');
      if (s?.type === 'startTimer') intervals.push(s.ms);
    }
    expect(intervals).toEqual([500, 1000, 2000, 4000, 4000]);
  });

  it('builds the 100 Trying from the INVITE (no To tag, §8.2.6.1)', () => {
    const tr = ist(fresh, timer('Trying100'), UDP);
    const sent = tr.effects[0];
    const trying = sent?.type === 'send' && sent.message.kind === 'response' ? sent.message : undefined;
    expect(trying?.status).toBe(100);
    expect(trying?.to().tag).toBeUndefined();
    expect(trying?.topVia()?.branch).toBe('z9hG4bK776asdhds');
  });

  it('takes any response in Proceeding, only 2xx in Accepted, none after a non-2xx final', () => {
    const table = [fresh, completed, confirmed, accepted, TERMINATED].map((s) => [180, 200, 486].map((st) => istAcceptsResponse(s as IstState, st)));
    expect(table).toEqual([
      [true, true, true],
      [false, false, false],
      [false, false, false],
      [false, true, false],
      [false, false, false],
    ]);
  });
});
