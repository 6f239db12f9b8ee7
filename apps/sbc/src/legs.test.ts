/** Leg mapping and the header filter (pure): what crosses from one leg to the other and what never does. */
import { describe, expect, it } from 'vitest';
import { createResponse, createUacDialog, createUasDialog, parseMessage, type SipRequest, type SipResponse } from '@ngcp/sip';
import { checkSbcConfig, resolveProfiles, sbcDefaults, type SbcConfig } from './config.js';
import { copiedFields, isInternalField, requestedProfile, whitelist } from './headers.js';
import { bLegInvite, nextHop, relayRequest, relayResponse } from './legs.js';

const SELF = { address: '127.0.0.5', port: 5080 };
const SDP = 'v=0\r\no=- 1 1 IN IP4 192.0.2.10\r\ns=-\r\nc=IN IP4 192.0.2.10\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';

function aInvite(extra = ''): SipRequest {
  const text = [
    'INVITE sip:bob@example.test SIP/2.0',
    'Via: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKproxy1',
    'Via: SIP/2.0/UDP 127.0.0.2:5060;branch=z9hG4bKlb1;received=198.51.100.7;rport=5060',
    'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKalice1;rport',
    'Record-Route: <sip:127.0.0.2:5062;lr>',
    'Record-Route: <sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:5060>',
    'Max-Forwards: 68',
    'From: "Alice" <sip:alice@example.test>;tag=alicetag;x-internal=1',
    'To: <sip:bob@example.test>',
    'Call-ID: alice-call-1@198.51.100.7',
    'CSeq: 7 INVITE',
    'Contact: <sip:alice@198.51.100.7:5060>',
    'X-NGCP-SBC-Profile: peer',
    'P-NGCP-Caller-Id: 42',
    'k: timer, 100rel',
    'User-Agent: softphone/1.0',
    'Allow: INVITE, ACK, BYE',
    'Session-Expires: 1800',
    extra,
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
    '',
    SDP,
  ].filter((l, i, all) => l !== '' || i >= all.length - 2).join('\r\n');
  return parseMessage(Buffer.from(text)) as SipRequest;
}

const profiles = resolveProfiles({ ...sbcDefaults, profiles: { default: {}, strict: { headers: ['Allow'], max_call_length_s: 30 } } } as unknown as SbcConfig);
const allowed = profiles.get('default')!.headers;

describe('header filter', () => {
  it('passes whitelisted fields only; compact forms count by their long name; 100rel is dropped from Supported', () => {
    const f = copiedFields(aInvite(), allowed);
    expect(f).toEqual([['Supported', 'timer'], ['Allow', 'INVITE, ACK, BYE'], ['Session-Expires', '1800']]);
    expect(copiedFields(aInvite(), whitelist(['allow']))).toEqual([['Allow', 'INVITE, ACK, BYE']]);
  });

  it('never passes the fields the B2BUA builds nor internal ones, whatever the whitelist', () => {
    const everything = whitelist(['Via', 'Record-Route', 'Contact', 'Call-ID', 'From', 'To', 'CSeq', 'X-NGCP-SBC-Profile', 'P-NGCP-Caller-Id', 'Max-Forwards', 'Content-Length']);
    expect(copiedFields(aInvite(), everything)).toEqual([]);
    expect(isInternalField('x-ngcp-anything')).toBe(true);
    expect(isInternalField('x-other')).toBe(false);
  });

  it('reads the profile the proxy named', () => {
    expect(requestedProfile(aInvite())).toBe('peer');
  });
});

describe('profiles', () => {
  it('fill in the defaults; the top-level limit applies to a profile without its own', () => {
    expect(profiles.get('default')).toMatchObject({ refer: 'reject', maxCallLengthS: 0 });
    expect(profiles.get('strict')).toMatchObject({ maxCallLengthS: 30, headers: new Set(['allow']) });
  });

  it('the default profile must exist', () => {
    const c = { ...sbcDefaults, proxy: '127.0.0.1:5062', default_profile: 'nope' } as unknown as SbcConfig;
    expect(checkSbcConfig(c)).toEqual([{ path: 'default_profile', message: 'names no profile (have default)' }]);
  });
});

describe('reply translation', () => {
  const cfg = (reply_translation: unknown): SbcConfig =>
    ({ ...sbcDefaults, proxy: '127.0.0.1:5062', profiles: { default: {}, peer: { reply_translation } } }) as unknown as SbcConfig;

  it('resolves by the B status; the reason defaults to the code’s standard phrase', () => {
    const p = resolveProfiles(cfg({ '503': { code: 480 }, '404': { code: 604, reason: 'Nobody Here' } })).get('peer')!;
    expect(p.replyTranslation.get(503)).toEqual({ code: 480, reason: 'Temporarily Unavailable' });
    expect(p.replyTranslation.get(404)).toEqual({ code: 604, reason: 'Nobody Here' });
    expect(profiles.get('default')!.replyTranslation.size).toBe(0);
  });

  it('refuses keys that are no final error code, naming the key', () => {
    const problems = checkSbcConfig(cfg({ '200': { code: 480 }, '503': { code: 480 }, abc: { code: 480 }, '3000': { code: 480 } }));
    expect(problems.map((p) => p.path)).toEqual(['profiles.peer.reply_translation.200', 'profiles.peer.reply_translation.3000', 'profiles.peer.reply_translation.abc']);
    expect(problems[0]!.message).toMatch(/300\.\.699/);
  });

  it('a B 503 relayed as the translated status: A’s Via/Call-ID, our To-tag, whitelisted fields; the ACK is the transaction’s', () => {
    const a = aInvite();
    const b = bLegInvite(a, { self: SELF, callId: 'b-call@sbc', fromTag: 'btag', cseq: 1, allowed });
    const b503 = parseMessage(createResponse(b, 503, { toTag: 'bobtag', headers: [['Retry-After', '30'], ['Reason', 'Q.850;cause=34']] }).toBuffer()) as SipResponse;
    const res = relayResponse(a, b503, { self: SELF, allowed, toTag: 'atag', translate: { code: 480, reason: 'Temporarily Unavailable' } });
    expect(res.status).toBe(480);
    expect(res.reason).toBe('Temporarily Unavailable');
    expect(res.callId()).toBe(a.callId());
    expect(res.to().tag).toBe('atag');
    expect(res.get('reason')).toBe('Q.850;cause=34');
    expect(res.toBuffer().toString()).not.toMatch(/503|bobtag|b-call/);
    expect(relayResponse(a, b503, { self: SELF, allowed, toTag: 'atag' }).status).toBe(503);
  });
});

describe('B leg INVITE', () => {
  const b = bLegInvite(aInvite(), { self: SELF, callId: 'b-call@sbc', fromTag: 'btag', cseq: 1, allowed });
  // an A leg not from the proxy (no X-NGCP-Caller): the B leg carries nothing of A, not even its Call-ID
  const text = b.toBuffer().toString();

  it('has a new Call-ID, From-tag, CSeq, one Via and Contact of ours, Max-Forwards one less', () => {
    expect(b.callId()).toBe('b-call@sbc');
    expect(b.from().tag).toBe('btag');
    expect(b.from().uri.toString()).toBe('sip:alice@example.test');
    expect(b.from().displayName).toBe('Alice');
    expect(b.to().tag).toBeUndefined();
    expect(b.cseq()).toMatchObject({ seq: 1, method: 'INVITE' });
    expect(b.vias()).toHaveLength(1);
    expect(b.topVia()!.host).toBe('127.0.0.5');
    expect(b.get('contact')).toBe('<sip:127.0.0.5:5080;transport=udp>');
    expect(b.maxForwards()).toBe(67);
    expect(b.uri).toBe('sip:bob@example.test');
    expect(b.body.toString()).toBe(SDP);
    expect(b.get('content-type')).toBe('application/sdp');
  });

  it('carries the proxy’s X-NGCP-Caller and the A leg’s Call-ID (back to the proxy), nothing else internal', () => {
    const withCaller = bLegInvite(aInvite('X-NGCP-Caller: peer:3'), { self: SELF, callId: 'b2', fromTag: 't', cseq: 1, allowed });
    expect(withCaller.getAll('x-ngcp-caller')).toEqual(['peer:3']);
    // the A leg's Call-ID goes back to the proxy (its accounting key), which removes it before anything
    // leaves (test/e2e/sbc.cases.ts checks the wire)
    expect(withCaller.getAll('x-ngcp-a-call-id')).toEqual([aInvite().callId()]);
    expect(b.has('x-ngcp-a-call-id')).toBe(false);
    expect(withCaller.has('x-ngcp-sbc-profile')).toBe(false);
    expect(withCaller.has('p-ngcp-caller-id')).toBe(false);
    // in-dialog requests and responses never carry it
    expect(copiedFields(aInvite('X-NGCP-Caller: peer:3'), whitelist(['X-NGCP-Caller']))).not.toContainEqual(['X-NGCP-Caller', 'peer:3']);
  });

  it('carries nothing of the A leg’s path or internal fields', () => {
    for (const leak of ['alice-call-1', 'alicetag', 'x-internal', '198.51.100.7:5060', '127.0.0.2', 'z9hG4bKalice1', 'NGCP', 'User-Agent', '100rel', 'Record-Route']) {
      expect(text.replace(SDP, ''), leak).not.toContain(leak);
    }
  });
});

describe('responses and in-dialog requests', () => {
  const a = aInvite();
  const b = bLegInvite(a, { self: SELF, callId: 'b-call@sbc', fromTag: 'btag', cseq: 1, allowed });
  const bOk = (): SipResponse => {
    const r = createResponse(b, 200, { toTag: 'bobtag', body: 'v=0\r\n', contentType: 'application/sdp', headers: [['Contact', '<sip:bob@203.0.113.9:5060>'], ['Record-Route', '<sip:127.0.0.2:5062;lr>'], ['Server', 'pbx'], ['Allow', 'INVITE']] });
    return parseMessage(r.toBuffer()) as SipResponse;
  };

  it('a B 200 becomes the A 200: A’s Via/Call-ID/tags and Record-Route, our To-tag and Contact, B’s body; nothing of B’s path', () => {
    const res = relayResponse(a, bOk(), { self: SELF, allowed, toTag: 'atag', dialogCreating: true });
    expect(res.status).toBe(200);
    expect(res.callId()).toBe(a.callId());
    expect(res.to().tag).toBe('atag');
    expect(res.vias()).toHaveLength(3);
    expect(res.recordRoutes().map(String)).toEqual(a.recordRoutes().map(String));
    expect(res.get('contact')).toBe('<sip:127.0.0.5:5080;transport=udp>');
    expect(res.get('allow')).toBe('INVITE');
    const text = res.toBuffer().toString();
    for (const leak of ['bobtag', 'b-call@sbc', '203.0.113.9', 'Server']) expect(text).not.toContain(leak);
    expect(res.body.toString()).toBe('v=0\r\n');
  });

  it('a BYE from B becomes a BYE on A’s dialog: A’s Call-ID and tags, its route set, next CSeq', () => {
    const bDialog = createUacDialog(b, bOk());
    const aRes = relayResponse(a, bOk(), { self: SELF, allowed, toTag: 'atag', dialogCreating: true });
    const aDialog = createUasDialog(a, aRes);
    const bye = relayRequest(aDialog, 'BYE', null, { self: SELF, allowed, headers: [['Reason', 'SIP;cause=200;text="x"']] });
    expect(bye.request.callId()).toBe('alice-call-1@198.51.100.7');
    expect(bye.request.from().tag).toBe('atag');
    expect(bye.request.to().tag).toBe('alicetag');
    expect(bye.request.uri).toBe('sip:alice@198.51.100.7:5060');
    expect(bye.request.getAll('route')).toEqual(['<sip:127.0.0.2:5062;lr>', '<sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:5060>']);
    expect(bye.request.cseq().seq).toBe(1);
    expect(bye.dialog.state).toBe('terminated');
    expect(nextHop(bye.request)).toEqual({ transport: 'udp', address: '127.0.0.2', port: 5062 });
    // and towards B: B's route set (the proxy's Record-Route), the dialog's next CSeq after the INVITE
    const toB = relayRequest(bDialog, 'BYE', null, { self: SELF, allowed });
    expect(toB.request.callId()).toBe('b-call@sbc');
    expect(toB.request.cseq().seq).toBe(2);
    expect(nextHop(toB.request)).toEqual({ transport: 'udp', address: '127.0.0.2', port: 5062 });
  });

  it('a re-INVITE carries our Contact and the SDP; its ACK reuses the INVITE’s CSeq', () => {
    const bDialog = createUacDialog(b, bOk());
    const reinvite = parseMessage(Buffer.from(`INVITE sip:127.0.0.5:5080 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKx\r\nFrom: <sip:alice@example.test>;tag=alicetag\r\nTo: <sip:bob@example.test>;tag=atag\r\nCall-ID: alice-call-1@198.51.100.7\r\nCSeq: 8 INVITE\r\nContact: <sip:alice@198.51.100.7:5060>\r\nContent-Type: application/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n`)) as SipRequest;
    const r = relayRequest(bDialog, 'INVITE', reinvite, { self: SELF, allowed });
    expect(r.request.get('contact')).toBe('<sip:127.0.0.5:5080;transport=udp>');
    expect(r.request.body.toString()).toBe('v=0\r\n');
    expect(r.request.cseq().seq).toBe(2);
    const ack = relayRequest(r.dialog, 'ACK', null, { self: SELF, allowed, cseq: 2 });
    expect(ack.request.cseq()).toMatchObject({ seq: 2, method: 'ACK' });
    expect(ack.request.has('contact')).toBe(false);
  });
});
