import { describe, expect, it } from 'vitest';
import type { NictState } from './non-invite-client.js';
import { nict, nictStart } from './non-invite-client.js';
import { sampleRequest, sampleResponse, summarize } from './testing.js';
import { timerValues } from './timers.js';
import type { ClientEvent } from './types.js';
import { TERMINATED } from './types.js';

const UDP = timerValues({}, false);
const TCP = timerValues({}, true);
const bye = sampleRequest('BYE', { toTag: 'a6c85cf' });
const response = (status: number): ClientEvent => ({ type: 'response', response: sampleResponse(bye, status) });
const timer = (t: 'E' | 'F' | 'K'): ClientEvent => ({ type: 'timer', timer: t });
const failure: ClientEvent = { type: 'transportError', error: new Error('EHOSTUNREACH') };

const trying: NictState = { name: 'Trying', request: bye, e: 500 };
const proceeding: NictState = { name: 'Proceeding', request: bye };
const cancelEvent: ClientEvent = { type: 'cancel' };
const completed: NictState = { name: 'Completed' };

describe('NICT start (§17.1.2.2)', () => {
  it('sends the request, starts E = T1 and F = 64*T1 on UDP', () => {
    const tr = nictStart(bye, UDP);
    expect(tr.state).toEqual({ name: 'Trying', request: bye, e: 500 });
    expect(summarize(tr.effects)).toEqual(['send BYE', 'start E 500', 'start F 32000']);
  });
  it('starts no Timer E on a reliable transport', () => {
    expect(summarize(nictStart(bye, TCP).effects)).toEqual(['send BYE', 'start F 32000']);
  });
});

interface Row {
  name: string;
  from: NictState;
  event: ClientEvent;
  timers?: typeof UDP;
  to: NictState['name'];
  effects: string[];
}

const rows: Row[] = [
  { name: 'Trying + Timer E → retransmit, E = min(2E, T2)', from: trying, event: timer('E'), to: 'Trying', effects: ['send BYE retx', 'start E 1000'] },
  { name: 'Trying + Timer F → timeout, Terminated', from: trying, event: timer('F'), to: 'Terminated', effects: ['timeout F', 'terminate'] },
  { name: 'Trying + 100 → Proceeding', from: trying, event: response(100), to: 'Proceeding', effects: ['pass 100'] },
  { name: 'Trying + 200 → Completed, Timer K = T4', from: trying, event: response(200), to: 'Completed', effects: ['stop E', 'stop F', 'start K 5000', 'pass 200'] },
  { name: 'Trying + 481 → Completed', from: trying, event: response(481), to: 'Completed', effects: ['stop E', 'stop F', 'start K 5000', 'pass 481'] },
  { name: 'Trying + 200 on TCP → Terminated (K = 0)', from: trying, event: response(200), timers: TCP, to: 'Terminated', effects: ['stop F', 'pass 200', 'terminate'] },
  { name: 'Trying + transport error → Terminated', from: trying, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  { name: 'Proceeding + Timer E → retransmit, E = T2', from: proceeding, event: timer('E'), to: 'Proceeding', effects: ['send BYE retx', 'start E 4000'] },
  { name: 'Proceeding + 180 → pass', from: proceeding, event: response(180), to: 'Proceeding', effects: ['pass 180'] },
  { name: 'Proceeding + 200 → Completed', from: proceeding, event: response(200), to: 'Completed', effects: ['stop E', 'stop F', 'start K 5000', 'pass 200'] },
  { name: 'Proceeding + Timer F → timeout, Terminated', from: proceeding, event: timer('F'), to: 'Terminated', effects: ['timeout F', 'terminate'] },
  { name: 'Proceeding + transport error → Terminated', from: proceeding, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  { name: 'Trying + cancel → nothing (only INVITE is cancelled)', from: trying, event: cancelEvent, to: 'Trying', effects: [] },
  { name: 'Completed + 200 retransmission → absorbed', from: completed, event: response(200), to: 'Completed', effects: [] },
  { name: 'Completed + Timer E (late) → nothing', from: completed, event: timer('E'), to: 'Completed', effects: [] },
  { name: 'Completed + Timer K → Terminated', from: completed, event: timer('K'), to: 'Terminated', effects: ['terminate'] },
  { name: 'Completed + transport error → nothing', from: completed, event: failure, to: 'Completed', effects: [] },
  { name: 'Terminated + 200 → nothing', from: TERMINATED, event: response(200), to: 'Terminated', effects: [] },
];

describe('NICT transitions (§17.1.2)', () => {
  it.each(rows)('$name', ({ from, event, timers, to, effects }) => {
    const tr = nict(from, event, timers ?? UDP);
    expect(tr.state.name).toBe(to);
    expect(summarize(tr.effects)).toEqual(effects);
  });

  it('caps Timer E at T2 while Trying: 500, 1000, 2000, 4000, 4000 …', () => {
    let state: NictState = nictStart(bye, UDP).state;
    const intervals: number[] = [500];
    for (let i = 0; i < 5; i++) {
      const tr = nict(state, timer('E'), UDP);
      state = tr.state;
      const s = tr.effects.find((e) => e.type === 'startTimer');
      if (s?.type === 'startTimer') intervals.push(s.ms);
    }
    expect(intervals).toEqual([500, 1000, 2000, 4000, 4000, 4000]);
  });
});
