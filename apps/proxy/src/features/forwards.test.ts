import { describe, expect, it } from 'vitest';
import { cftTimeoutMs, diversionHeader, ForwardChain, forwardFor, forwardTarget, numberOf, type Forwards } from './forwards.js';

const none = (): Forwards => ({
  cfu: { ringTimeout: null, destinations: [] }, cfb: { ringTimeout: null, destinations: [] },
  cfna: { ringTimeout: null, destinations: [] }, cft: { ringTimeout: null, destinations: [] },
});
const to = (n: string) => ({ type: 'number' as const, destination: n });

describe('forwardFor: which forward a subscriber stage takes', () => {
  const all = (): Forwards => {
    const f = none();
    for (const t of ['cfu', 'cfb', 'cfna', 'cft'] as const) f[t].destinations.push(to('4311009'));
    return f;
  };
  it('CFU before ringing; nothing without destinations or forwards', () => {
    expect(forwardFor(all(), { kind: 'unconditional' })).toBe('cfu');
    expect(forwardFor(none(), { kind: 'unconditional' })).toBeUndefined();
    expect(forwardFor(undefined, { kind: 'failed', best: 486 })).toBeUndefined();
  });
  it('CFB on a best final 486 only', () => {
    expect(forwardFor(all(), { kind: 'failed', best: 486 })).toBe('cfb');
    const f = all();
    f.cfb.destinations = [];
    expect(forwardFor(f, { kind: 'failed', best: 486 })).toBeUndefined();
  });
  it('CFNA on no binding and on 408/480/5xx; not on 404, 487, 603', () => {
    for (const best of [undefined, 408, 480, 500, 503]) expect(forwardFor(all(), { kind: 'failed', best })).toBe('cfna');
    for (const best of [404, 487, 603, 403]) expect(forwardFor(all(), { kind: 'failed', best })).toBeUndefined();
  });
  it('CFT on the ring timeout', () => {
    expect(forwardFor(all(), { kind: 'timeout' })).toBe('cft');
    const f = all();
    f.cft.destinations = [];
    expect(forwardFor(f, { kind: 'timeout' })).toBeUndefined();
  });
  it('the CFT ring timeout: the forward\'s, else the default; none without CFT', () => {
    const f = all();
    expect(cftTimeoutMs(f, 15)).toBe(15_000);
    f.cft.ringTimeout = 5;
    expect(cftTimeoutMs(f, 15)).toBe(5000);
    expect(cftTimeoutMs(none(), 15)).toBeUndefined();
    expect(cftTimeoutMs(undefined, 15)).toBeUndefined();
  });
});

describe('forwardTarget: where a destination leads', () => {
  it('numbers, URIs, voicemail, and bad rows (logged and skipped by the caller)', () => {
    expect(forwardTarget(to('+4311009'))).toEqual({ kind: 'number', e164: '4311009' });
    expect(forwardTarget({ type: 'voicemail', destination: null })).toEqual({ kind: 'voicemail' });
    expect(forwardTarget({ type: 'uri', destination: 'sip:bob@Example.ORG' })).toEqual({ kind: 'uri', user: 'bob', host: 'example.org' });
    expect(forwardTarget({ type: 'uri', destination: 'sip:%2B4311009@carrier.example:5070;user=phone' })).toEqual({ kind: 'uri', user: '+4311009', host: 'carrier.example' });
    expect(forwardTarget(to('abc')).kind).toBe('invalid');
    expect(forwardTarget({ type: 'number', destination: null }).kind).toBe('invalid');
    expect(forwardTarget({ type: 'uri', destination: 'tel:+4311009' }).kind).toBe('invalid');
    expect(forwardTarget({ type: 'uri', destination: 'sip:example.org' }).kind).toBe('invalid');
  });
  it('numberOf: a URI user that is a number', () => {
    expect(numberOf('+43-1-1009')).toBe('4311009');
    expect(numberOf('bob')).toBeUndefined();
    expect(numberOf('0')).toBeUndefined();
  });
});

describe('ForwardChain: loops and long chains end', () => {
  it('a subscriber reached twice is a loop', () => {
    const c = new ForwardChain(5);
    expect(c.enter(1)).toBe(true);
    expect(c.enter(2)).toBe(true);
    expect(c.enter(1)).toBe(false);
  });
  it('at most maxHops forwards', () => {
    const c = new ForwardChain(2);
    expect(c.forward()).toBe(true);
    expect(c.forward()).toBe(true);
    expect(c.forward()).toBe(false);
    expect(c.hops).toBe(2);
  });
});

it('diversionHeader: RFC 5806 reason per type, the user escaped', () => {
  expect(diversionHeader('4311002', 'example.org', 'cfb', 1)).toBe('<sip:4311002@example.org>;reason=user-busy;counter=1');
  expect(diversionHeader('a b', 'example.org', 'cft', 2)).toBe('<sip:a%20b@example.org>;reason=no-answer;counter=2');
  expect(diversionHeader('x', 'd', 'cfu', 1)).toContain('reason=unconditional');
  expect(diversionHeader('x', 'd', 'cfna', 1)).toContain('reason=unavailable');
});
