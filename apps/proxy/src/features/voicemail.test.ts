import { describe, expect, it } from 'vitest';
import { parseMessage, parseUri, type SipRequest } from '@ngcp/sip';
import { admitMwi, eventPackage, isMwiNotify, isVoicemailNumber, mwiFinal, voicemailUri, voicemailUser } from './voicemail.js';

const notify = (headers: string[]): SipRequest =>
  parseMessage(Buffer.from([
    'NOTIFY sip:alice@example.org SIP/2.0', 'Via: SIP/2.0/UDP 127.0.0.2:5070;branch=z9hG4bK1', 'Max-Forwards: 70',
    'From: <sip:voicebox@example.org>;tag=a1', 'Call-ID: mwi-1', 'CSeq: 1 NOTIFY', ...headers, 'Content-Length: 0', '', '',
  ].join('\r\n'))) as SipRequest;

describe('the app-server URIs of the contract (apps/appserver)', () => {
  it('deposit and retrieval name the box by subscriber id; an IPv6 app-server in brackets', () => {
    expect(voicemailUser('deposit', 12)).toBe('vm-deposit.12');
    expect(voicemailUri('deposit', 12, { address: '127.0.0.2', port: 5070 })).toBe('sip:vm-deposit.12@127.0.0.2:5070');
    expect(voicemailUri('retrieve', 7, { address: '::1', port: 5070 })).toBe('sip:vm-retrieve.7@[::1]:5070');
  });
});

describe('isVoicemailNumber: the dialled user as the phone sent it', () => {
  it.each([
    ['2000', '2000', true],
    ['+2000', '2000', false],
    ['20001', '2000', false],
    ['%2A98', '*98', true],
    ['*98', '*98', true],
    ['4312000', '2000', false],
    ['', '2000', false],
    [null, '2000', false],
  ] as Array<[string | null, string, boolean]>)('%s against %s → %s', (user, number, want) => {
    expect(isVoicemailNumber(user, number)).toBe(want);
  });
});

describe('MWI NOTIFY recognition and admission', () => {
  it('an out-of-dialog NOTIFY of the message-summary package (parameters, case) is MWI; other packages or in a dialog are not', () => {
    expect(eventPackage('Message-Summary;id=3')).toBe('message-summary');
    expect(isMwiNotify(notify(['To: <sip:alice@example.org>', 'Event: message-summary']))).toBe(true);
    expect(isMwiNotify(notify(['To: <sip:alice@example.org>', 'Event: Message-Summary ; id=1']))).toBe(true);
    expect(isMwiNotify(notify(['To: <sip:alice@example.org>', 'Event: dialog']))).toBe(false);
    expect(isMwiNotify(notify(['To: <sip:alice@example.org>']))).toBe(false);
    expect(isMwiNotify(notify(['To: <sip:alice@example.org>;tag=x', 'Event: message-summary']))).toBe(false);
  });

  it('only the app-server may send it (403 for anyone else), to a sip: user@domain', () => {
    expect(admitMwi(true, parseUri('sip:alice@example.org'))).toEqual({ ok: true, aor: 'alice@example.org' });
    expect(admitMwi(false, parseUri('sip:alice@example.org'))).toMatchObject({ ok: false, status: 403, result: 'forbidden' });
    expect(admitMwi(true, parseUri('sip:example.org'))).toMatchObject({ ok: false, status: 404, result: 'bad-target' });
    expect(admitMwi(true, parseUri('tel:+4311001'))).toMatchObject({ ok: false, status: 404, result: 'bad-target' });
  });
});

describe('mwiFinal: the answer the app-server gets', () => {
  it.each([
    [[200], { index: 0, status: 200 }],
    [[408, 202], { index: 1, status: 202 }],
    [[480, 200, 486], { index: 1, status: 200 }],
    [[408, 486], { index: 1, status: 486 }],
    [[503, 408], { index: 1, status: 408 }],
    [[503], { index: 0, status: 500 }],
    [[489, 603], { index: 1, status: 603 }],
  ] as Array<[number[], { index: number; status: number }]>)('%j → %j', (statuses, want) => {
    expect(mwiFinal(statuses)).toEqual(want);
  });
  it('no device: undefined (the relay answers 404)', () => {
    expect(mwiFinal([])).toBeUndefined();
  });
});
