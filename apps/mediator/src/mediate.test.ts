import { describe, expect, it } from 'vitest';
import { byCall, cdrCallType, failureStatus, mediateCall, type AccRecord } from './mediate.js';

const T0 = new Date('2026-12-07T10:00:00.000Z');
const at = (ms: number) => new Date(T0.getTime() + ms);
let nextId = 1;
function rec(kind: AccRecord['kind'], timeMs: number, over: Partial<AccRecord> = {}): AccRecord {
  return {
    id: nextId++, kind, callid: 'c1', sip_code: kind === 'failure' ? '486' : '200', time: at(timeMs), init_time: kind === 'stop' ? null : at(-3000),
    src_user: 'alice', src_domain: 'd.test', src_ip: '192.0.2.1', dst_user: 'bob', dst_domain: 'd.test', dst_ouser: '0123',
    src_subscriber_id: 1, dst_subscriber_id: 2, peering_server_id: null, call_type: 'call', ...over,
  };
}
const OPTS = { now: at(10_000), leftoverAfterMs: 60_000, stopWaitMs: 5_000 };

describe('mediateCall', () => {
  it('start + stop: an answered call, duration to the millisecond, init time from the INVITE', () => {
    const m = mediateCall([rec('start', 0), rec('stop', 65_432)], OPTS);
    expect(m?.outcome).toBe('answered');
    expect(m?.cdr).toMatchObject({
      call_id: 'c1', call_status: 'ok', call_code: '200', init_time: at(-3000), start_time: at(0), duration: 65.432,
      source_user: 'alice', destination_user: 'bob', destination_user_in: '0123', source_subscriber_id: 1, destination_subscriber_id: 2,
    });
    expect(m?.accIds).toHaveLength(2);
  });

  it('a forwarded call: the CDR takes the call type and the destination of the INVITE\'s record (the forward target), the number as dialled', () => {
    const fw = { call_type: 'cfb' as const, dst_user: 'carol', dst_subscriber_id: 3, dst_ouser: 'bob' };
    const m = mediateCall([rec('start', 0, fw), rec('stop', 1000, fw)], OPTS);
    expect(m?.cdr).toMatchObject({ call_type: 'cfb', call_status: 'ok', destination_user: 'carol', destination_subscriber_id: 3, destination_user_in: 'bob', duration: 1 });
  });

  it('a forward to voicemail: call type voicemail, the box owner as the destination, the callee as dialled; a retrieval likewise', () => {
    const dep = { call_type: 'voicemail' as const, dst_user: 'vm-deposit.2', dst_domain: 'voicebox.local', dst_subscriber_id: 2, dst_ouser: 'bob' };
    const m = mediateCall([rec('start', 0, dep), rec('stop', 4000, dep)], OPTS);
    expect(m?.cdr).toMatchObject({
      call_type: 'voicemail', call_status: 'ok', source_user: 'alice', destination_user: 'vm-deposit.2', destination_domain: 'voicebox.local',
      destination_subscriber_id: 2, destination_user_in: 'bob', duration: 4,
    });
    const ret = { call_type: 'voicemail' as const, dst_user: 'vm-retrieve.1', dst_domain: 'voicebox.local', dst_subscriber_id: 1, dst_ouser: '2000' };
    expect(mediateCall([rec('failure', 0, { ...ret, sip_code: '500' })], OPTS)?.cdr).toMatchObject({ call_type: 'voicemail', call_status: 'other', destination_user_in: '2000' });
  });

  it('records from before migration 0010 (a voicebox callee, type call or the forward) make a voicemail CDR; other calls keep their type', () => {
    const old = { dst_user: 'vm-deposit.2', dst_domain: 'voicebox.local', dst_ouser: 'bob' };
    expect(mediateCall([rec('start', 0, { ...old, call_type: 'cfu' }), rec('stop', 1000, { ...old, call_type: 'cfu' })], OPTS)?.cdr.call_type).toBe('voicemail');
    expect(cdrCallType({ call_type: 'call', dst_domain: 'voicebox.local' })).toBe('voicemail');
    expect(cdrCallType({ call_type: 'cfna', dst_domain: 'd.test' })).toBe('cfna');
    expect(cdrCallType({ call_type: 'call', dst_domain: null })).toBe('call');
  });

  it('a failure: not answered, the status from its code, no start time', () => {
    const m = mediateCall([rec('failure', 0, { sip_code: '487' })], OPTS);
    expect(m?.outcome).toBe('failed');
    expect(m?.cdr).toMatchObject({ call_status: 'cancel', call_code: '487', start_time: null, duration: 0, init_time: at(-3000) });
  });

  it('a start alone is open until leftover_after, then closed as timeout', () => {
    expect(mediateCall([rec('start', 0)], OPTS)).toBeUndefined();
    const m = mediateCall([rec('start', 0)], { ...OPTS, now: at(60_000) });
    expect(m?.outcome).toBe('leftover_start');
    expect(m?.cdr).toMatchObject({ call_status: 'timeout', call_code: '200', start_time: at(0), duration: 0 });
  });

  it('a stop alone waits stop_wait for its start, then gets a CDR of its own', () => {
    expect(mediateCall([rec('stop', 6_000)], OPTS)).toBeUndefined();
    const m = mediateCall([rec('stop', 4_000)], OPTS);
    expect(m?.outcome).toBe('lone_stop');
    expect(m?.cdr).toMatchObject({ call_status: 'ok', start_time: null, duration: 0, init_time: at(4_000) });
  });

  it('a start beside a failure (a 2xx after the caller cancelled) is an answered call: it waits for the stop', () => {
    expect(mediateCall([rec('failure', 0, { sip_code: '487' }), rec('start', 10)], OPTS)).toBeUndefined();
    expect(mediateCall([rec('failure', 0, { sip_code: '487' }), rec('start', 10), rec('stop', 2010)], OPTS)?.cdr).toMatchObject({ call_status: 'ok', duration: 2 });
  });

  it('older rows without init_time use the record time; a peer on the caller side when no subscriber called', () => {
    const m = mediateCall([rec('failure', 0, { init_time: null, src_subscriber_id: null, peering_server_id: 7, sip_code: '480' })], OPTS);
    expect(m?.cdr).toMatchObject({ init_time: at(0), source_peer_id: 7, destination_peer_id: null, call_status: 'offline' });
    const out = mediateCall([rec('failure', 0, { peering_server_id: 7, sip_code: '503' })], OPTS);
    expect(out?.cdr).toMatchObject({ source_peer_id: null, destination_peer_id: 7, call_status: 'other' });
  });

  it('a negative duration (clocks of two nodes) is 0, not negative', () => {
    expect(mediateCall([rec('start', 500), rec('stop', 0)], OPTS)?.cdr.duration).toBe(0);
  });
});

describe('failureStatus and byCall', () => {
  it('maps finals to statuses', () => {
    expect(['486', '600', '603', '487', '480', '408', '404', '500'].map(failureStatus)).toEqual(['busy', 'busy', 'busy', 'cancel', 'offline', 'noanswer', 'other', 'other']);
  });
  it('groups rows by Call-ID in first-seen order', () => {
    const g = byCall([{ callid: 'b' }, { callid: 'a' }, { callid: 'b' }]);
    expect([...g.keys()]).toEqual(['b', 'a']);
    expect(g.get('b')).toHaveLength(2);
  });
});
