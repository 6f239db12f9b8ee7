import { describe, expect, it } from 'vitest';
import { SipRequest } from '@ngcp/sip';
import { dispatchKey, dispatchOrder, hash32 } from './select.js';

function req(extra: Array<[string, string]> = [], uri = 'sip:bob@example.org'): SipRequest {
  return new SipRequest('INVITE', uri, [
    ['Via', 'SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1'], ['From', '"A" <sip:alice@Example.org;user=phone>;tag=1'], ['To', '<sip:bob@example.org>'],
    ['Call-ID', 'call-1@h'], ['CSeq', '1 INVITE'], ...extra,
  ]);
}

const up = (weight = 1) => ({ up: true, weight });
const down = (weight = 1) => ({ up: false, weight });

describe('dispatch keys', () => {
  it.each([
    ['hash-callid', req(), 'call-1@h'],
    ['hash-from', req(), 'alice@example.org'],
    ['hash-to', req(), 'bob@example.org'],
    ['hash-ruri-user', req(), 'bob'],
    ['hash-ruri-user', req([], 'sip:example.org'), 'call-1@h'],
    ['hash-auth-user', req([['Proxy-Authorization', 'Digest username="alice", realm="example.org", nonce="n", uri="sip:bob@example.org", response="0123"']]), 'alice'],
    ['hash-auth-user', req(), 'call-1@h'],
    ['weighted', req(), 'call-1@h'],
    ['round-robin', req(), null],
  ] as const)('%s → %s', (alg, r, key) => {
    expect(dispatchKey(r, alg)).toBe(key);
  });

  it('hash32 is FNV-1a', () => {
    expect(hash32('')).toBe(0x811c9dc5);
    expect(hash32('a')).toBe(0xe40c292c);
  });
});

describe('dispatch order', () => {
  it.each([
    ['hash picks key % n, then the rest in order', [up(), up(), up()], 'hash-callid', 'x', 0, [hash32('x') % 3, (hash32('x') + 1) % 3, (hash32('x') + 2) % 3]],
    ['down destinations are skipped', [down(), up(), down()], 'hash-callid', 'x', 0, [1]],
    ['none up → nothing', [down(), down()], 'hash-callid', 'x', 0, []],
    ['round robin walks the list', [up(), up(), up()], 'round-robin', null, 4, [1, 2, 0]],
    ['round robin skips down ones', [up(), down(), up()], 'round-robin', null, 1, [2, 0]],
    ['no destinations', [], 'round-robin', null, 0, []],
  ] as const)('%s', (_n, cands, alg, key, rr, order) => {
    expect(dispatchOrder(cands, alg, key, rr)).toEqual(order);
  });

  it('weighted: shares follow the weights, a zero weight is never first', () => {
    const cands = [up(3), up(1), up(0)];
    const counts = [0, 0, 0];
    for (let i = 0; i < 4000; i++) counts[dispatchOrder(cands, 'weighted', `call-${i}`, 0)[0]!]!++;
    expect(counts[2]).toBe(0);
    expect(counts[0]! / counts[1]!).toBeGreaterThan(2.4);
    expect(counts[0]! / counts[1]!).toBeLessThan(3.6);
    expect(dispatchOrder(cands, 'weighted', 'call-1', 0)).toHaveLength(3);
  });

  it('hash: the same key always gets the same destination', () => {
    const cands = [up(), up(), up(), up()];
    const first = dispatchOrder(cands, 'hash-callid', 'abc', 0)[0];
    for (let i = 0; i < 5; i++) expect(dispatchOrder(cands, 'hash-callid', 'abc', i)[0]).toBe(first);
  });
});
