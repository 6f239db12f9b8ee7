import { describe, expect, it } from 'vitest';
import type { NistState } from './non-invite-server.js';
import { nist, nistAcceptsResponse, nistStart } from './non-invite-server.js';
import { sampleRequest, sampleResponse, summarize } from './testing.js';
import { timerValues } from './timers.js';
import type { ServerEvent } from './types.js';
import { TERMINATED } from './types.js';

const UDP = timerValues({}, false);
const TCP = timerValues({}, true);
const register = sampleRequest('REGISTER', { uri: 'sip:registrar.biloxi.example.com' });
const res = (status: number) => sampleResponse(register, status, status > 100 ? 'reg1' : undefined);
const respond = (status: number): ServerEvent => ({ type: 'respond', response: res(status) });
const retransmission: ServerEvent = { type: 'request', request: register };
const failure: ServerEvent = { type: 'transportError', error: new Error('ENETUNREACH') };

const trying: NistState = { name: 'Trying' };
const proceeding: NistState = { name: 'Proceeding', provisional: res(100) };
const completed: NistState = { name: 'Completed', response: res(200) };

describe('NIST start (§17.2.2)', () => {
  it('enters Trying and passes the request to the TU', () => {
    const tr = nistStart(register);
    expect(tr.state.name).toBe('Trying');
    expect(summarize(tr.effects)).toEqual(['pass REGISTER']);
  });
});

interface Row {
  name: string;
  from: NistState;
  event: ServerEvent;
  timers?: typeof UDP;
  to: NistState['name'];
  effects: string[];
}

const rows: Row[] = [
  { name: 'Trying + retransmission → absorbed', from: trying, event: retransmission, to: 'Trying', effects: [] },
  { name: 'Trying + 1xx from TU → Proceeding', from: trying, event: respond(100), to: 'Proceeding', effects: ['send 100'] },
  { name: 'Trying + 200 from TU → Completed, Timer J = 64*T1', from: trying, event: respond(200), to: 'Completed', effects: ['send 200', 'start J 32000'] },
  { name: 'Trying + 401 from TU → Completed', from: trying, event: respond(401), to: 'Completed', effects: ['send 401', 'start J 32000'] },
  { name: 'Trying + 200 on TCP → Terminated (J = 0)', from: trying, event: respond(200), timers: TCP, to: 'Terminated', effects: ['send 200', 'terminate'] },
  { name: 'Proceeding + retransmission → last provisional again', from: proceeding, event: retransmission, to: 'Proceeding', effects: ['send 100 retx'] },
  { name: 'Proceeding + 1xx from TU → sent', from: proceeding, event: respond(183), to: 'Proceeding', effects: ['send 183'] },
  { name: 'Proceeding + 200 from TU → Completed', from: proceeding, event: respond(200), to: 'Completed', effects: ['send 200', 'start J 32000'] },
  { name: 'Proceeding + transport error → Terminated', from: proceeding, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  { name: 'Completed + retransmission → final again', from: completed, event: retransmission, to: 'Completed', effects: ['send 200 retx'] },
  { name: 'Completed + another final from TU → discarded', from: completed, event: respond(500), to: 'Completed', effects: [] },
  { name: 'Completed + Timer J → Terminated', from: completed, event: { type: 'timer', timer: 'J' }, to: 'Terminated', effects: ['terminate'] },
  { name: 'Completed + transport error → Terminated', from: completed, event: failure, to: 'Terminated', effects: ['transport-error', 'terminate'] },
  { name: 'Terminated + retransmission → nothing', from: TERMINATED, event: retransmission, to: 'Terminated', effects: [] },
];

describe('NIST transitions (§17.2.2)', () => {
  it.each(rows)('$name', ({ from, event, timers, to, effects }) => {
    const tr = nist(from, event, timers ?? UDP);
    expect(tr.state.name).toBe(to);
    expect(summarize(tr.effects)).toEqual(effects);
  });

  it('takes responses only in Trying and Proceeding', () => {
    expect([trying, proceeding, completed, TERMINATED].map((s) => nistAcceptsResponse(s as NistState))).toEqual([true, true, false, false]);
  });
});
