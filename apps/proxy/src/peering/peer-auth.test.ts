import { describe, expect, it } from 'vitest';
import { createResponse, parseNameAddr, SipRequest } from '@ngcp/sip';
import { answerPeerChallenge, cseqShift, resendWithCredentials, shiftedRecordRoute } from './peer-auth.js';

const invite = (): SipRequest => new SipRequest('INVITE', 'sip:4930123@192.0.2.7:5060', [
  ['Via', 'SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKfirst'], ['Via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller'],
  ['Record-Route', '<sip:127.0.0.2:5062;lr>'], ['Record-Route', '<sip:127.0.0.1:5060;lr>'],
  ['From', '<sip:4311@example.org>;tag=ab-c'], ['To', '<sip:4930123@192.0.2.7>'], ['Call-ID', 'c1'], ['CSeq', '7 INVITE'], ['Max-Forwards', '69'],
]);
const challenged = (status: 401 | 407, realm = 'carrier.example') => createResponse(invite(), status, {
  toTag: 'x', headers: [[status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate', `Digest realm="${realm}", nonce="n1", qop="auth"`]],
});
const auth = { username: 'trunk', password: 'pw', realm: null };

describe('answerPeerChallenge', () => {
  it('answers a 401 in Authorization and a 407 in Proxy-Authorization, with qop=auth, nc and a cnonce', () => {
    const a = answerPeerChallenge(auth, challenged(401), invite());
    expect(a).toMatchObject({ ok: true, header: 'Authorization', realm: 'carrier.example' });
    const b = answerPeerChallenge(auth, challenged(407), invite());
    expect(b).toMatchObject({ ok: true, header: 'Proxy-Authorization' });
    expect(b.ok && b.value).toMatch(/username="trunk".*uri="sip:4930123@192\.0\.2\.7:5060".*qop=auth.*nc=00000001/);
    expect(b.ok && b.value).toMatch(/cnonce="[0-9a-f]+"/);
  });
  it('answers only the configured realm; no credentials → not answered', () => {
    expect(answerPeerChallenge({ ...auth, realm: 'other.example' }, challenged(407), invite())).toEqual({ ok: false, reason: 'no-usable-challenge' });
    expect(answerPeerChallenge({ ...auth, realm: 'carrier.example' }, challenged(407), invite()).ok).toBe(true);
    expect(answerPeerChallenge(null, challenged(407), invite())).toEqual({ ok: false, reason: 'no-credentials' });
    const garbage = createResponse(invite(), 407, { toTag: 'x', headers: [['Proxy-Authenticate', 'Basic realm="r"']] });
    expect(answerPeerChallenge(auth, garbage, invite())).toEqual({ ok: false, reason: 'no-usable-challenge' });
  });
});

describe('resendWithCredentials', () => {
  it('CSeq + 1, our new Via on top, credentials once, our Record-Route replaced; the rest as sent', () => {
    const sent = invite();
    const a = answerPeerChallenge(auth, challenged(407), sent);
    if (!a.ok) throw new Error('not answered');
    const rr = shiftedRecordRoute('<sip:127.0.0.2:5062;lr>', 'ab-c', 1);
    const out = resendWithCredentials(sent, a, 'SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKsecond', rr);
    expect(out.cseq()).toEqual({ seq: 8, method: 'INVITE' });
    expect(out.getAll('via')).toEqual(['SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKsecond', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKcaller']);
    expect(out.getAll('proxy-authorization')).toEqual([a.value]);
    expect(out.elements('record-route')).toEqual(['<sip:127.0.0.2:5062;lr;ftag=ab-c;cseq=1>', '<sip:127.0.0.1:5060;lr>']);
    expect(out.uri).toBe(sent.uri);
    expect(out.callId()).toBe('c1');
    expect(sent.cseq().seq).toBe(7); // the branch's own copy is not touched
    // answered again (another challenge): the old credentials are replaced, not added
    const again = resendWithCredentials(out, a, 'SIP/2.0/UDP 127.0.0.2:5062;branch=z9hG4bKthird', rr);
    expect(again.getAll('proxy-authorization')).toHaveLength(1);
  });
});

describe('cseqShift', () => {
  const route = (v: string) => parseNameAddr(v, 'route');
  it('shifts the side whose From tag our entry names, nobody else', () => {
    const ours = [route('<sip:127.0.0.2:5062;lr;ftag=ab-c;cseq=1>')];
    expect(cseqShift(ours, 'ab-c')).toBe(1);
    expect(cseqShift(ours, 'peer-tag')).toBe(0);
    expect(cseqShift(ours, undefined)).toBe(0);
    expect(cseqShift([route('<sip:127.0.0.2:5062;lr>')], 'ab-c')).toBe(0);
  });
  it('ignores a malformed shift (a route entry is untrusted input)', () => {
    for (const v of ['0', '-1', 'x', '1000', '01']) expect(cseqShift([route(`<sip:127.0.0.2:5062;lr;ftag=t;cseq=${v}>`)], 't')).toBe(0);
    // a tag is a token: '+' and '%' are escaped in the parameter, compared escaped
    expect(shiftedRecordRoute('<sip:127.0.0.2:5062;lr>', 'a+b%c', 1)).toBe('<sip:127.0.0.2:5062;lr;ftag=a%2Bb%25c;cseq=1>');
    expect(cseqShift([route(shiftedRecordRoute('<sip:127.0.0.2:5062;lr>', 'a+b%c', 1))], 'a+b%c')).toBe(1);
    expect(cseqShift([route('<sip:127.0.0.2:5062;lr;ftag=a%2Bb;cseq=1>')], 'a%2Bb')).toBe(0);
  });
});
