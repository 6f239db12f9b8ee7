import { describe, expect, it } from 'vitest';
import { parseMessage, type SipRequest } from '@ngcp/sip';
import { applyIdentity, callerAsksPrivacy, fromFor } from './call-features.js';
import { blockedBy, blockPattern, e164, ncosAllows, reasonHeader } from './policy.js';
import { compileRewriteSet, rewrite } from './rewrite.js';

describe('rewrite rules', () => {
  const rules = [
    { id: 3, direction: 'in' as const, field: 'callee' as const, match: '^00', replace: '', priority: 10 },
    { id: 2, direction: 'in' as const, field: 'callee' as const, match: '^0([1-9][0-9]*)$', replace: '43$1', priority: 20 },
    { id: 1, direction: 'in' as const, field: 'callee' as const, match: '^\\+', replace: '', priority: 5 },
    { id: 4, direction: 'out' as const, field: 'caller' as const, match: '^43([1-9][0-9]*)$', replace: '0$1', priority: 50 },
    { id: 5, direction: 'in' as const, field: 'caller' as const, match: '^0([1-9][0-9]*)$', replace: '43$1', priority: 50 },
  ];
  const set = compileRewriteSet(1, rules);

  it.each([
    ['012345', '4312345'], // national → E.164
    ['004912345', '4912345'], // international prefix dropped
    ['+4312345', '4312345'], // '+' dropped
    ['4312345', '4312345'], // already E.164: no rule matches
    ['bob', 'bob'],
  ])('in/callee %s → %s (every matching rule in priority order)', (dialled, want) => {
    expect(set.apply('in', 'callee', dialled)).toBe(want);
  });

  it('out/caller formats an E.164 number nationally; other directions and fields are separate', () => {
    expect(set.apply('out', 'caller', '4312345')).toBe('012345');
    expect(set.apply('out', 'caller', '4912345')).toBe('4912345');
    expect(set.apply('out', 'callee', '4312345')).toBe('4312345');
    expect(set.apply('in', 'caller', '012345')).toBe('4312345');
    expect(rewrite(undefined, 'in', 'callee', '012345')).toBe('012345');
  });

  it('a rule that does not compile is skipped and reported; the others still apply', () => {
    const skipped: unknown[] = [];
    const s = compileRewriteSet(2, [
      { id: 7, direction: 'in', field: 'callee', match: '([', replace: 'x', priority: 1 },
      { id: 8, direction: 'in', field: 'callee', match: '^0', replace: '43', priority: 2 },
    ], (r) => skipped.push(r));
    expect(skipped).toEqual([expect.objectContaining({ id: 7, match: '(['})]);
    expect(s.size).toBe(1);
    expect(s.apply('in', 'callee', '0123')).toBe('43123');
  });

  it('the same input always gives the same output (no regex state between calls)', () => {
    for (let i = 0; i < 3; i++) expect(set.apply('in', 'callee', '012345')).toBe('4312345');
  });
});

describe('NCOS', () => {
  const level = { id: 1, level: 'no-premium', defaultAction: 'allow' as const, patterns: [{ prefix: '43900', action: 'deny' as const }, { prefix: '439001', action: 'allow' as const }] };
  it.each([
    ['4311001', true], ['43900555', false], ['+43900555', false], ['439001555', true],
  ])('%s → %s (longest prefix decides)', (n, want) => expect(ncosAllows(level, n)).toBe(want));
  it('the default applies when nothing matches', () => {
    expect(ncosAllows({ ...level, defaultAction: 'deny' }, '4311001')).toBe(false);
    expect(ncosAllows({ ...level, defaultAction: 'deny', patterns: [{ prefix: '+4311', action: 'allow' }] }, '4311001')).toBe(true);
  });
});

describe('block lists', () => {
  it('patterns: exact, * suffix or anywhere, ?, + ignored; regex characters are literal', () => {
    expect(blockPattern('4311001')('4311001')).toBe(true);
    expect(blockPattern('4311001')('43110011')).toBe(false);
    expect(blockPattern('4311*')('4311999')).toBe(true);
    expect(blockPattern('+4311*')('4311999')).toBe(true);
    expect(blockPattern('43*01')('4311001')).toBe(true);
    expect(blockPattern('431100?')('4311001')).toBe(true);
    expect(blockPattern('43.1*')('4311')).toBe(false);
  });
  it('blacklist blocks matches, whitelist blocks the rest; no list blocks nothing; an unknown number matches nothing', () => {
    expect(blockedBy('blacklist', ['4311*'], '4311001')).toBe(true);
    expect(blockedBy(undefined, ['4311*'], '4322001')).toBe(false);
    expect(blockedBy('whitelist', ['4311*'], '4311001')).toBe(false);
    expect(blockedBy('whitelist', ['4311*'], '4322001')).toBe(true);
    expect(blockedBy('whitelist', undefined, '4322001')).toBe(false);
    expect(blockedBy('whitelist', [], '4322001')).toBe(false);
    expect(blockedBy('blacklist', ['*'], undefined)).toBe(false);
    expect(blockedBy('whitelist', ['4311*'], undefined)).toBe(true);
  });
  it('e164 drops a leading + only', () => {
    expect(e164('+4311')).toBe('4311');
    expect(e164('04311')).toBe('04311');
  });
});

const invite = (headers: string): SipRequest => parseMessage(Buffer.from(
  'INVITE sip:bob@example.org SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK1\r\n'
  + `${headers}To: <sip:bob@example.org>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n`,
)) as SipRequest;

describe('identity (RFC 3325 / RFC 3323)', () => {
  it('not anonymous: From user = the number as shown, PAI set, whatever the caller asserted removed', () => {
    const req = invite('From: "Alice" <sip:alice@example.org>;tag=a1\r\nP-Asserted-Identity: <sip:999@evil.example>\r\nP-Preferred-Identity: <sip:998@evil.example>\r\n');
    const from = applyIdentity(req, { user: '011001', domain: 'example.org', anonymous: false }, false);
    expect(from).toBe('"Alice" <sip:011001@example.org>;tag=a1');
    expect(req.get('from')).toBe(from);
    expect(req.getAll('p-asserted-identity')).toEqual(['<sip:011001@example.org>']);
    expect(req.has('p-preferred-identity')).toBe(false);
    expect(req.has('privacy')).toBe(false);
  });
  it('anonymous: anonymous From with the tag, Privacy: id, PAI only towards a trusted target', () => {
    const req = invite('From: "Alice" <sip:alice@example.org>;tag=a1\r\nPrivacy: id\r\nP-Asserted-Identity: <sip:999@evil.example>\r\n');
    expect(callerAsksPrivacy(req)).toBe(true);
    applyIdentity(req, { user: '4311001', domain: 'example.org', anonymous: true }, false);
    expect(req.get('from')).toBe('"Anonymous" <sip:anonymous@anonymous.invalid>;tag=a1');
    expect(req.get('privacy')).toBe('id');
    expect(req.has('p-asserted-identity')).toBe(false);
    const toPeer = invite('From: <sip:alice@example.org>;tag=a2\r\n');
    applyIdentity(toPeer, { user: '4311001', domain: 'example.org', anonymous: true }, true);
    expect(toPeer.getAll('p-asserted-identity')).toEqual(['<sip:4311001@example.org>']);
  });
  it('the caller asks for privacy with Privacy id/header/user or an anonymous From; none is no request', () => {
    expect(callerAsksPrivacy(invite('From: <sip:alice@example.org>;tag=a\r\n'))).toBe(false);
    expect(callerAsksPrivacy(invite('From: <sip:alice@example.org>;tag=a\r\nPrivacy: none\r\n'))).toBe(false);
    expect(callerAsksPrivacy(invite('From: <sip:alice@example.org>;tag=a\r\nPrivacy: header;user\r\n'))).toBe(true);
    expect(callerAsksPrivacy(invite('From: "Anonymous" <sip:anonymous@anonymous.invalid>;tag=a\r\n'))).toBe(true);
  });
  it('fromFor keeps display name, host, parameters; escapes what a user part cannot hold', () => {
    expect(fromFor('<sip:alice@example.org;user=phone>;tag=t', { user: '0 11', domain: 'x', anonymous: false })).toBe('<sip:0%2011@example.org;user=phone>;tag=t');
  });
  it('Reason header (RFC 3326)', () => {
    expect(reasonHeader(403, 'callee blocked by NCOS')).toBe('SIP;cause=403;text="callee blocked by NCOS"');
  });
});
