import { describe, expect, it } from 'vitest';
import { SipRequest } from '@ngcp/sip';
import { checkDomain, requestDomain } from './domain-check.js';

const served = new Set(['example.org']);

describe('requestDomain', () => {
  const r = (method: string, uri: string, to: string, from = '<sip:a@home.example>;tag=1') =>
    new SipRequest(method, uri, [['Via', 'SIP/2.0/UDP h;branch=z9hG4bK1'], ['From', from], ['To', to], ['Call-ID', 'c'], ['CSeq', `1 ${method}`]]);
  it.each([
    [r('REGISTER', 'sip:registrar.example', '<sip:alice@Example.ORG>'), 'example.org'],
    [r('INVITE', 'sip:bob@Other.example', '<sip:bob@example.org>'), 'other.example'],
    [r('INVITE', 'tel:+4312345', '<tel:+4312345>'), 'home.example'],
    [r('INVITE', 'tel:+4312345', '<tel:+4312345>', '<tel:+1>;tag=1'), null],
  ])('%#', (req, d) => {
    expect(requestDomain(req)).toBe(d);
  });
});

describe('checkDomain', () => {
  it.each([
    [{ domain: 'example.org', trusted: false, own: false, domains: served }, 'allow'],
    [{ domain: 'EXAMPLE.org', trusted: false, own: false, domains: served }, 'allow'],
    [{ domain: 'evil.example', trusted: false, own: false, domains: served }, 'forbidden'],
    [{ domain: 'evil.example', trusted: true, own: false, domains: served }, 'allow'],
    [{ domain: '127.0.0.1', trusted: false, own: true, domains: served }, 'allow'],
    [{ domain: 'example.org', trusted: false, own: false, domains: null }, 'unavailable'],
    [{ domain: null, trusted: false, own: false, domains: served }, 'forbidden'],
    [{ domain: 'example.org', trusted: false, own: false, domains: new Set<string>() }, 'forbidden'],
  ] as const)('%o → %s', (input, verdict) => {
    expect(checkDomain(input)).toBe(verdict);
  });
});
