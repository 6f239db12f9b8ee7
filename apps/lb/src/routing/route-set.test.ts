import { describe, expect, it } from 'vitest';
import { SipRequest, parseUri } from '@ngcp/sip';
import { OwnAddresses, addDoubleRecordRoute, isDialogCreating, nextRoute, popOwnRoutes } from './route-set.js';

const own = new OwnAddresses([
  { transport: 'udp', address: '127.0.0.1', port: 5060 },
  { transport: 'tcp', address: '127.0.0.1', port: 5060 },
  { transport: 'tls', address: '127.0.0.1', port: 5061 },
  { transport: 'udp', address: '127.0.0.2', port: 5060 },
]);

function req(method: string, headers: Array<[string, string]>, to = '<sip:bob@example.org>'): SipRequest {
  return new SipRequest(method, 'sip:bob@example.org', [['Via', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1'], ['From', '<sip:a@example.org>;tag=1'], ['To', to], ['Call-ID', 'c'], ['CSeq', `1 ${method}`], ...headers]);
}

describe('own addresses', () => {
  it.each([
    ['sip:127.0.0.1', true],
    ['sip:127.0.0.1:5060;lr', true],
    ['sip:127.0.0.1;transport=tls;lr', true],
    ['sips:127.0.0.1', true],
    ['sip:127.0.0.1:5062', false],
    ['sip:127.0.0.2:5060;lr;r2=on', true],
    ['sip:127.0.0.3', false],
    ['tel:+1', false],
  ])('%s is ours: %s', (u, ours) => {
    expect(own.isOwnUri(parseUri(u))).toBe(ours);
  });
});

describe('popOwnRoutes', () => {
  it.each([
    [[], 0, undefined],
    [['<sip:127.0.0.1;lr;r2=on>, <sip:127.0.0.2;lr;r2=on>, <sip:127.0.0.2:5062;lr>'], 2, 'sip:127.0.0.2:5062;lr'],
    [['<sip:127.0.0.1;lr>', '<sip:127.0.0.2;lr>'], 2, undefined],
    [['<sip:127.0.0.2:5062;lr>', '<sip:127.0.0.1;lr>'], 0, 'sip:127.0.0.2:5062;lr'],
    [['<sip:127.0.0.2;lr;received=sip:1.2.3.4:5060>'], 1, undefined],
  ])('%j pops %i, next %s', (routes, n, next) => {
    const r = req('BYE', routes.map((v) => ['Route', v] as [string, string]), '<sip:bob@example.org>;tag=2');
    expect(popOwnRoutes(r, own)).toHaveLength(n);
    expect(nextRoute(r)?.toString()).toBe(next);
  });
});

describe('double Record-Route', () => {
  it('puts the entry facing the next hop on top, above existing ones', () => {
    const r = req('INVITE', [['Record-Route', '<sip:10.9.9.9;lr>']]);
    addDoubleRecordRoute(r, { transport: 'udp', address: '127.0.0.2', port: 5060 }, { transport: 'tcp', address: '127.0.0.1', port: 5060 });
    expect(r.elements('record-route')).toEqual(['<sip:127.0.0.2:5060;lr;r2=on>', '<sip:127.0.0.1:5060;transport=tcp;lr;r2=on>', '<sip:10.9.9.9;lr>']);
  });

  it.each([
    ['INVITE', '<sip:b@x>', true],
    ['INVITE', '<sip:b@x>;tag=9', false],
    ['SUBSCRIBE', '<sip:b@x>', true],
    ['REGISTER', '<sip:b@x>', false],
    ['MESSAGE', '<sip:b@x>', false],
  ])('%s to %s creates a dialog: %s', (m, to, yes) => {
    expect(isDialogCreating(req(m, [], to))).toBe(yes);
  });
});
