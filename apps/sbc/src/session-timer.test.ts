/** Session timer negotiation (RFC 4028, pure): what each leg agrees, who refreshes, when a leg is due or dead. */
import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest, type SipResponse } from '@ngcp/sip';
import { checkSbcConfig, resolveProfiles, sbcDefaults, type SbcConfig } from './config.js';
import { bLegInvite } from './legs.js';
import {
  addTimerSupport, arm, dueAction, giveUpMarginMs, negotiateAsUac, negotiateAsUas, nextDue, parseMinSe, parseSessionExpires,
  requestFields, retryDelayMs, retryInterval,
} from './session-timer.js';

function request(method: string, headers: string[]): SipRequest {
  const text = [
    `${method} sip:bob@example.test SIP/2.0`,
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKa1',
    'From: <sip:alice@example.test>;tag=a1',
    'To: <sip:bob@example.test>',
    'Call-ID: st-1',
    `CSeq: 1 ${method}`,
    'Contact: <sip:alice@198.51.100.7>',
    ...headers,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

function response(status: number, headers: string[]): SipResponse {
  const text = [
    `SIP/2.0 ${status} X`,
    'Via: SIP/2.0/UDP 127.0.0.5:5080;branch=z9hG4bKb1',
    'From: <sip:alice@example.test>;tag=b1',
    'To: <sip:bob@example.test>;tag=bob1',
    'Call-ID: st-2',
    'CSeq: 1 INVITE',
    'Contact: <sip:bob@192.0.2.20>',
    ...headers,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text)) as SipResponse;
}

const POLICY = { interval: 1800, minSe: 90 };

describe('header values', () => {
  it('parses Session-Expires with its refresher, and refuses what is no delta', () => {
    expect(parseSessionExpires('1800')).toEqual({ delta: 1800 });
    expect(parseSessionExpires(' 600 ; refresher = UAS')).toEqual({ delta: 600, refresher: 'uas' });
    expect(parseSessionExpires('600;refresher=uac;x=1')).toEqual({ delta: 600, refresher: 'uac' });
    expect(parseSessionExpires('600;refresher=proxy')).toEqual({ delta: 600 });
    expect(parseSessionExpires(undefined)).toBeNull();
    expect(parseSessionExpires('soon')).toBe('bad');
    expect(parseSessionExpires('-5')).toBe('bad');
    expect(parseMinSe('120')).toBe(120);
    expect(parseMinSe('120;x=1')).toBe(120);
    expect(parseMinSe('lots')).toBeNull();
    expect(requestFields(1800, 90)).toEqual([['Session-Expires', '1800'], ['Min-SE', '90']]);
    expect(requestFields(600, 120, 'uac')).toEqual([['Session-Expires', '600;refresher=uac'], ['Min-SE', '120']]);
  });

  it('adds timer to Supported once, keeping the tags there', () => {
    const a = request('INVITE', ['Supported: replaces']);
    addTimerSupport(a);
    expect(a.getAll('supported')).toEqual(['replaces, timer']);
    const b = request('INVITE', ['k: timer']);
    addTimerSupport(b);
    expect(b.getAll('supported')).toEqual(['timer']);
    const c = request('INVITE', []);
    addTimerSupport(c);
    expect(c.get('supported')).toBe('timer');
  });
});

describe('the sbc as UAS of a leg (RFC 4028 §9)', () => {
  it('takes a smaller Session-Expires, never below either Min-SE, and refreshes unless the UAC asked to', () => {
    const r = negotiateAsUas(request('INVITE', ['Supported: timer', 'Session-Expires: 600', 'Allow: INVITE, UPDATE']), POLICY);
    expect(r).toEqual({
      ok: true,
      timer: { interval: 600, minSe: 90, refresher: 'sbc', peerAware: true, method: 'UPDATE' },
      responseFields: [['Session-Expires', '600;refresher=uas'], ['Require', 'timer']],
    });
    const uac = negotiateAsUas(request('INVITE', ['Supported: timer', 'Session-Expires: 3600;refresher=uac', 'Min-SE: 120']), POLICY);
    expect(uac.ok && uac.timer).toMatchObject({ interval: 1800, minSe: 120, refresher: 'peer', method: 'INVITE' });
    expect(uac.ok && uac.responseFields[0]).toEqual(['Session-Expires', '1800;refresher=uac']);
    // Min-SE of the request above our interval: the interval is raised to it
    const raised = negotiateAsUas(request('INVITE', ['Min-SE: 2400']), POLICY);
    expect(raised.ok && raised.timer.interval).toBe(2400);
  });

  it('enforces a timer on a UAC without timer support: the sbc refreshes, no Require', () => {
    const r = negotiateAsUas(request('INVITE', ['Session-Expires: 900;refresher=uac']), POLICY);
    expect(r.ok && r.timer).toMatchObject({ interval: 900, refresher: 'sbc', peerAware: false });
    expect(r.ok && r.responseFields).toEqual([['Session-Expires', '900;refresher=uas']]);
    const none = negotiateAsUas(request('INVITE', []), POLICY);
    expect(none.ok && none.timer.interval).toBe(1800);
  });

  it('answers 422 with its Min-SE to a Session-Expires below it, 400 to one that does not parse', () => {
    expect(negotiateAsUas(request('INVITE', ['Session-Expires: 60']), POLICY)).toEqual({ ok: false, status: 422, minSe: 90 });
    expect(negotiateAsUas(request('UPDATE', ['x: 89;refresher=uac']), POLICY)).toEqual({ ok: false, status: 422, minSe: 90 });
    expect(negotiateAsUas(request('INVITE', ['Session-Expires: 90']), POLICY).ok).toBe(true);
    expect(negotiateAsUas(request('INVITE', ['Session-Expires: whenever']), POLICY)).toEqual({ ok: false, status: 400, reason: 'Bad Session-Expires' });
  });
});

describe('the sbc as UAC (RFC 4028 §7.2, §7.4)', () => {
  const asked = { interval: 1800, minSe: 90 };

  it('takes interval and refresher from the 2xx', () => {
    expect(negotiateAsUac(response(200, ['Session-Expires: 1200;refresher=uas', 'Require: timer', 'Allow: INVITE, ACK, BYE, UPDATE']), asked))
      .toEqual({ interval: 1200, minSe: 90, refresher: 'peer', peerAware: true, method: 'UPDATE' });
    expect(negotiateAsUac(response(200, ['Session-Expires: 1200;refresher=uac']), asked)).toMatchObject({ interval: 1200, refresher: 'sbc' });
    // a refresher left out by a sloppy UAS: the sbc refreshes (it asked for the timer)
    expect(negotiateAsUac(response(200, ['Session-Expires: 1200']), asked)).toMatchObject({ refresher: 'sbc' });
  });

  it('refreshes itself when the far side does not do timers (no Session-Expires in the 2xx)', () => {
    expect(negotiateAsUac(response(200, ['Allow: INVITE, ACK, BYE']), asked)).toEqual({ interval: 1800, minSe: 90, refresher: 'sbc', peerAware: false, method: 'INVITE' });
  });

  it('never goes below its Min-SE, whatever a rogue 2xx says; keeps the method when the 2xx has no Allow', () => {
    expect(negotiateAsUac(response(200, ['Session-Expires: 10;refresher=uas']), asked)).toMatchObject({ interval: 90 });
    expect(negotiateAsUac(response(200, []), asked, { method: 'UPDATE' }).method).toBe('UPDATE');
  });

  it('retries a 422 with its Min-SE only when that is larger than what was asked', () => {
    expect(retryInterval(response(422, ['Min-SE: 3600']), 1800)).toBe(3600);
    expect(retryInterval(response(422, ['Min-SE: 1800']), 1800)).toBeNull();
    expect(retryInterval(response(422, []), 1800)).toBeNull();
  });
});

describe('deadlines (RFC 4028 §10)', () => {
  const base = { interval: 1800, minSe: 90, peerAware: true, method: 'UPDATE' as const };

  it('the refresher refreshes at half the interval; the leg is dead when the interval ends without a 2xx', () => {
    const t = arm({ ...base, refresher: 'sbc' }, 1_000_000);
    expect(t).toMatchObject({ refreshAt: 1_000_000 + 900_000, expiresAt: 1_000_000 + 1_800_000, pending: null });
    expect(nextDue(t)).toBe(1_900_000);
    expect(dueAction(t, 1_899_999)).toBe('none');
    expect(dueAction(t, 1_900_000)).toBe('refresh');
    expect(dueAction({ ...t, refreshAt: 1_000_000 + 933_000 }, 2_800_000)).toBe('expired');
  });

  it('when the peer refreshes, its refresh must come min(32 s, interval/3) before the end', () => {
    expect(giveUpMarginMs(1800)).toBe(32_000);
    expect(giveUpMarginMs(90)).toBe(30_000);
    expect(giveUpMarginMs(3)).toBe(1000);
    const t = arm({ ...base, refresher: 'peer' }, 0);
    expect(t.refreshAt).toBeNull();
    expect(t.expiresAt).toBe(1_800_000 - 32_000);
    expect(nextDue(t)).toBe(t.expiresAt);
    expect(dueAction(t, t.expiresAt - 1)).toBe('none');
    expect(dueAction(t, t.expiresAt)).toBe('expired');
    expect(dueAction(null, 5)).toBe('none');
    expect(nextDue(undefined)).toBeNull();
  });

  it('a turned-down refresh is tried again within a quarter interval, at most 2 s', () => {
    expect(retryDelayMs(2)).toBe(500);
    expect(retryDelayMs(1800)).toBe(2000);
  });
});

describe('profiles', () => {
  const cfg = (over: Partial<SbcConfig>): SbcConfig => ({ ...sbcDefaults, proxy: '127.0.0.1:5062', ...over } as unknown as SbcConfig);

  it('resolves each profile’s timer (its own keys, else the top-level ones); 0 is off', () => {
    const p = resolveProfiles(cfg({ session_timer_s: 1800, profiles: { default: {}, short: { session_timer_s: 4, min_se_s: 2 }, off: { session_timer_s: 0 } } }));
    expect(p.get('default')!.timer).toEqual({ interval: 1800, minSe: 90 });
    expect(p.get('short')!.timer).toEqual({ interval: 4, minSe: 2 });
    expect(p.get('off')!.timer).toBeNull();
    expect(resolveProfiles(cfg({})).get('default')!.timer).toBeNull();
  });

  it('with timers on, Session-Expires and Min-SE are the sbc’s own on each leg: never copied between them', () => {
    const p = resolveProfiles(cfg({ session_timer_s: 1800, profiles: { default: {}, off: { session_timer_s: 0 } } }));
    const a = request('INVITE', ['Supported: timer', 'Session-Expires: 600;refresher=uac', 'Min-SE: 120']);
    const opts = { self: { address: '127.0.0.5', port: 5080 }, callId: 'b1', fromTag: 't1', cseq: 1 };
    const on = bLegInvite(a, { ...opts, allowed: p.get('default')!.headers });
    expect(on.has('session-expires')).toBe(false);
    expect(on.has('min-se')).toBe(false);
    const off = bLegInvite(a, { ...opts, allowed: p.get('off')!.headers });
    expect(off.get('session-expires')).toBe('600;refresher=uac');
  });

  it('refuses an interval below the Min-SE in force, naming the key', () => {
    expect(checkSbcConfig(cfg({ session_timer_s: 60, profiles: { default: {}, other: {} } }))).toEqual([{ path: 'session_timer_s', message: '60 is below the Min-SE in force (90; min_se_s)' }]);
    expect(checkSbcConfig(cfg({ profiles: { default: { session_timer_s: 5, min_se_s: 10 } } }))).toEqual([{ path: 'profiles.default.session_timer_s', message: '5 is below the Min-SE in force (10; min_se_s)' }]);
    expect(checkSbcConfig(cfg({ session_timer_s: 60, min_se_s: 30 }))).toEqual([]);
  });
});
