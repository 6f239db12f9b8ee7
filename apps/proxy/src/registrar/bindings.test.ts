import { describe, expect, it } from 'vitest';
import type { LocationBinding } from '@ngcp/db';
import { contactHeaderValues, decideRegister, liveBindings, type RegisterInput } from './bindings.js';

const LIMITS = { minExpires: 60, maxExpires: 3600, defaultExpires: 600, maxContacts: 3 };
const NOW = 1_000_000;
const req = (over: Partial<RegisterInput>): RegisterInput => ({ now: NOW, contacts: [], callId: 'c1', cseq: 2, ...over });
const stored = (contact: string, over: Partial<LocationBinding> = {}): LocationBinding => ({ contact, expires: NOW + 100, q: 1, call_id: 'c0', cseq: 1, ...over });

describe('decideRegister', () => {
  it.each<[string, Partial<RegisterInput>, number]>([
    ['contact expires param wins', { contacts: [{ uri: 'sip:a@1.2.3.4', expires: 120 }], expiresHeader: 300 }, NOW + 120],
    ['Expires header next', { contacts: [{ uri: 'sip:a@1.2.3.4' }], expiresHeader: 300 }, NOW + 300],
    ['default last', { contacts: [{ uri: 'sip:a@1.2.3.4' }] }, NOW + 600],
    ['capped at max_expires', { contacts: [{ uri: 'sip:a@1.2.3.4', expires: 99999 }] }, NOW + 3600],
  ])('%s', (_n, over, expires) => {
    const d = decideRegister([], req(over), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', bindings: [{ contact: 'sip:a@1.2.3.4', expires }], keyExpiresAt: expires });
  });

  it('423 with Min-Expires when too brief, but 0 is an unregister', () => {
    expect(decideRegister([], req({ contacts: [{ uri: 'sip:a@h', expires: 30 }] }), LIMITS)).toEqual({ kind: 'reject', status: 423, minExpires: 60 });
    const d = decideRegister([stored('sip:a@h')], req({ contacts: [{ uri: 'sip:a@h', expires: 0 }] }), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', set: [], remove: ['sip:a@h'], bindings: [] });
    expect(d.kind === 'ok' && d.keyExpiresAt).toBe(undefined);
  });

  it('* with Expires 0 removes every binding; * without it is 400', () => {
    const d = decideRegister([stored('sip:a@h'), stored('sip:b@h')], req({ contacts: '*', expiresHeader: 0 }), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', remove: ['sip:a@h', 'sip:b@h'], bindings: [] });
    expect(decideRegister([], req({ contacts: '*', expiresHeader: 60 }), LIMITS)).toMatchObject({ kind: 'reject', status: 400 });
  });

  it('keeps other contacts, adds new ones, reports all by q, key lives as long as the latest', () => {
    const d = decideRegister([stored('sip:old@h', { expires: NOW + 3000 })], req({ contacts: [{ uri: 'sip:new@h', q: 0.5 }] }), LIMITS);
    expect(d.kind).toBe('ok');
    if (d.kind !== 'ok') return;
    expect(d.bindings.map((b) => b.contact)).toEqual(['sip:old@h', 'sip:new@h']);
    expect(d.keyExpiresAt).toBe(NOW + 3000);
    expect(d.set).toHaveLength(1);
  });

  it('drops expired bindings it finds', () => {
    const d = decideRegister([stored('sip:gone@h', { expires: NOW - 1 })], req({ contacts: [{ uri: 'sip:a@h' }] }), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', remove: ['sip:gone@h'] });
  });

  it('an out-of-order request of the same registration fails, a newer one updates', () => {
    const old = stored('sip:a@h', { call_id: 'c1', cseq: 5 });
    expect(decideRegister([old], req({ contacts: [{ uri: 'sip:a@h' }], cseq: 5 }), LIMITS)).toMatchObject({ kind: 'reject', status: 500 });
    expect(decideRegister([old], req({ contacts: [{ uri: 'sip:a@h' }], cseq: 6 }), LIMITS)).toMatchObject({ kind: 'ok' });
  });

  it('refuses more than max_contacts', () => {
    const have = [stored('sip:1@h'), stored('sip:2@h'), stored('sip:3@h')];
    expect(decideRegister(have, req({ contacts: [{ uri: 'sip:4@h' }] }), LIMITS)).toMatchObject({ kind: 'reject', status: 403 });
  });

  it('the same +sip.instance/reg-id replaces its old contact (RFC 5626)', () => {
    const have = [stored('sip:a@10.0.0.1', { instance: '<urn:uuid:1>', reg_id: 1 })];
    const d = decideRegister(have, req({ contacts: [{ uri: 'sip:a@10.0.0.2', instance: '<urn:uuid:1>', regId: 1 }] }), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', remove: ['sip:a@10.0.0.1'], bindings: [{ contact: 'sip:a@10.0.0.2' }] });
  });

  it('stores path, received, socket and user agent', () => {
    const d = decideRegister([], req({ contacts: [{ uri: 'sip:a@h' }], path: ['<sip:lb;lr>'], received: 'udp:1.2.3.4:5060', socket: 'udp:127.0.0.2:5062', userAgent: 'ua' }), LIMITS);
    expect(d).toMatchObject({ kind: 'ok', set: [{ path: ['<sip:lb;lr>'], received: 'udp:1.2.3.4:5060', socket: 'udp:127.0.0.2:5062', user_agent: 'ua', call_id: 'c1', cseq: 2, updated: NOW }] });
  });
});

describe('liveBindings / contactHeaderValues', () => {
  it('orders by q and reports seconds left', () => {
    const list = liveBindings([stored('sip:lo@h', { q: 0.1 }), stored('sip:hi@h', { q: 0.9, expires: NOW + 50 }), stored('sip:x@h', { expires: NOW })], NOW);
    expect(list.map((b) => b.contact)).toEqual(['sip:hi@h', 'sip:lo@h']);
    expect(contactHeaderValues(list, NOW)).toEqual(['<sip:hi@h>;expires=50;q=0.9', '<sip:lo@h>;expires=100;q=0.1']);
  });
});
