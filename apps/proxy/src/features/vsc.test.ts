import { describe, expect, it } from 'vitest';
import { announcementUri, failureAnnouncement } from './announcements.js';
import { DEFAULT_VSC_CODES, parseStarCode, unescapeUser, vscAnnouncement, type StarCode } from './vsc.js';

describe('parseStarCode: sip:provider\'s default codes', () => {
  it.each([
    ['*72*4311001', { code: 'cfu', action: 'set', number: '4311001' }],
    ['*90*4311001', { code: 'cfb', action: 'set', number: '4311001' }],
    ['*92*4311001', { code: 'cft', action: 'set', number: '4311001' }],
    ['*93*4311001', { code: 'cfna', action: 'set', number: '4311001' }],
    ['*31*4311001', { code: 'clir', action: 'call', number: '4311001' }],
    ['*72*4311001#', { code: 'cfu', action: 'set', number: '4311001' }],
    ['*72*+4311001', { code: 'cfu', action: 'set', number: '+4311001' }],
    ['*72*0043-1 (100)', { code: 'cfu', action: 'set', number: '00431100' }],
    ['*93*01234', { code: 'cfna', action: 'set', number: '01234' }],
  ] as Array<[string, StarCode]>)('%s sets / calls', (user, want) => {
    expect(parseStarCode(user)).toEqual(want);
  });

  it.each([
    ['#72#', 'cfu'], ['#90#', 'cfb'], ['#92#', 'cft'], ['#93#', 'cfna'], ['#72', 'cfu'],
  ])('%s clears %s', (user, code) => {
    expect(parseStarCode(user)).toEqual({ code, action: 'clear' });
  });

  it('phones escape * and # (%2A, %23, either case)', () => {
    expect(parseStarCode('%2A72%2A4311001')).toEqual({ code: 'cfu', action: 'set', number: '4311001' });
    expect(parseStarCode('%2a90%2a4311001%23')).toEqual({ code: 'cfb', action: 'set', number: '4311001' });
    expect(parseStarCode('%2372%23')).toEqual({ code: 'cfu', action: 'clear' });
    expect(parseStarCode('%2A31%2A4311001')).toEqual({ code: 'clir', action: 'call', number: '4311001' });
    expect(unescapeUser('%2A72%2A1')).toBe('*72*1');
    // a broken escape is left as it is (and is then no star code)
    expect(unescapeUser('%2G72')).toBe('%2G72');
    expect(parseStarCode('%2G72%2A1')).toBeNull();
  });

  it('malformed codes with a known code are errors (answered vsc-error), naming what is wrong', () => {
    expect(parseStarCode('*72*')).toEqual({ code: 'cfu', action: 'error', reason: 'no number' });
    expect(parseStarCode('*90*alice')).toEqual({ code: 'cfb', action: 'error', reason: 'not a number' });
    expect(parseStarCode('*92*12*34')).toEqual({ code: 'cft', action: 'error', reason: 'not a number' });
    expect(parseStarCode('*93*##')).toEqual({ code: 'cfna', action: 'error', reason: 'not a number' });
    expect(parseStarCode('*31*')).toEqual({ code: 'clir', action: 'error', reason: 'no number' });
    expect(parseStarCode('#72#4311001')).toEqual({ code: 'cfu', action: 'error', reason: 'text after the clear code' });
    expect(parseStarCode(`*72*${'1'.repeat(33)}`)).toEqual({ code: 'cfu', action: 'error', reason: 'not a number' });
  });

  it('anything else is not a star code: routed as dialled', () => {
    for (const user of ['4311001', 'alice', '+4311001', '*55*4311001', '*7*1', '*721', '72*1', '#31#', '#55#', '*', '#', '', null, undefined]) {
      expect(parseStarCode(user), String(user)).toBeNull();
    }
  });

  it('configured codes replace the defaults', () => {
    const codes = { ...DEFAULT_VSC_CODES, cfu: '21', clir: '67' };
    expect(parseStarCode('*21*4311001', codes)).toEqual({ code: 'cfu', action: 'set', number: '4311001' });
    expect(parseStarCode('#21#', codes)).toEqual({ code: 'cfu', action: 'clear' });
    expect(parseStarCode('*67*4311001', codes)).toEqual({ code: 'clir', action: 'call', number: '4311001' });
    expect(parseStarCode('*72*4311001', codes)).toBeNull();
    expect(parseStarCode('*31*4311001', codes)).toBeNull();
  });
});

describe('announcements', () => {
  it('a star code is confirmed by vsc-ok / vsc-cleared / vsc-error', () => {
    expect(vscAnnouncement({ code: 'cfu', action: 'set', number: '1' })).toBe('vsc-ok');
    expect(vscAnnouncement({ code: 'cfb', action: 'clear' })).toBe('vsc-cleared');
    expect(vscAnnouncement({ code: 'cft', action: 'error', reason: 'no number' })).toBe('vsc-error');
  });

  it('the final of a failed call names its announcement; others are relayed', () => {
    expect([404, 486, 480, 408, 402, 403].map(failureAnnouncement)).toEqual(['number-unknown', 'busy', 'unavailable', 'unavailable', 'no-credit', 'not-allowed']);
    for (const s of [400, 482, 483, 487, 500, 503, 600, 603]) expect(failureAnnouncement(s)).toBeUndefined();
  });

  it('the Request-URI at the app-server (IPv6 in brackets)', () => {
    expect(announcementUri('busy', { address: '127.0.0.2', port: 5070 })).toBe('sip:announce.busy@127.0.0.2:5070');
    expect(announcementUri('vsc-ok', { address: '::1', port: 5070 })).toBe('sip:announce.vsc-ok@[::1]:5070');
  });
});
