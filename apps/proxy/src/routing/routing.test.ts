import { describe, expect, it } from 'vitest';
import { parseNameAddr, parseUri } from '@ngcp/sip';
import { selectBestResponse } from './best-response.js';
import { calleeCandidates } from './callee.js';
import { planLooseRoute } from './loose-route.js';
import { isOwnUri, receivedFromPath, uriDestination } from './uri-destination.js';

const SELF = { address: '127.0.0.2', port: 5062 };
const routes = (...r: string[]) => r.map((x) => parseNameAddr(x, 'route'));

describe('planLooseRoute', () => {
  it.each([
    ['own entry on top, next is the lb', ['<sip:127.0.0.2:5062;lr>', '<sip:127.0.0.2:5060;lr;r2=on>'], 'sip:a@10.0.0.1:5070', 1, { address: '127.0.0.2', port: 5060 }],
    ['several own entries', ['<sip:127.0.0.2:5062;lr>', '<sip:127.0.0.2:5062;lr>'], 'sip:a@10.0.0.1:5070', 2, { address: '10.0.0.1', port: 5070 }],
    ['no Route: the Request-URI', [], 'sip:a@10.0.0.9', 0, { address: '10.0.0.9', port: 5060 }],
    ['foreign entry on top is kept', ['<sip:10.1.1.1;lr>'], 'sip:a@10.0.0.9', 0, { address: '10.1.1.1', port: 5060 }],
  ] as const)('%s', (_n, r, ruri, pop, next) => {
    const p = planLooseRoute(routes(...r), parseUri(ruri), SELF);
    expect(p.popTop).toBe(pop);
    expect(p.next).toMatchObject(next);
  });

  it('repairs a strict router: the last Route becomes the Request-URI', () => {
    const p = planLooseRoute(routes('<sip:127.0.0.2:5062;lr>', '<sip:b@10.0.0.5:5090>'), parseUri('sip:127.0.0.2:5062'), SELF);
    expect(p.newRequestUri).toBe('sip:b@10.0.0.5:5090');
    expect(p.popTop).toBe(1);
  });

  it('a host name cannot be routed without DNS', () => {
    expect(planLooseRoute([], parseUri('sip:a@example.com'), SELF).next).toBeUndefined();
  });
});

describe('uri helpers', () => {
  it('destinations from URIs', () => {
    expect(uriDestination(parseUri('sip:1.2.3.4;transport=TCP'))).toEqual({ transport: 'tcp', address: '1.2.3.4', port: 5060 });
    expect(uriDestination(parseUri('sips:1.2.3.4'))).toEqual({ transport: 'tls', address: '1.2.3.4', port: 5061 });
    expect(isOwnUri(parseUri('sip:127.0.0.2:5062;lr'), SELF)).toBe(true);
    expect(isOwnUri(parseUri('sip:127.0.0.2;lr'), SELF)).toBe(false);
  });

  it("a sibling worker's port is ours; other ports and hosts are not", () => {
    const w1 = { address: '127.0.0.2', port: 5063, ports: [5062, 5063] };
    expect(isOwnUri(parseUri('sip:127.0.0.2:5062;lr'), w1)).toBe(true);
    expect(isOwnUri(parseUri('sip:127.0.0.2:5063;lr'), w1)).toBe(true);
    expect(isOwnUri(parseUri('sip:127.0.0.2:5064;lr'), w1)).toBe(false);
    expect(isOwnUri(parseUri('sip:127.0.0.3:5062;lr'), w1)).toBe(false);
    // worker 1 gets an in-dialog request whose Route names worker 0 (the lb failed over): popped, not looped back
    const p = planLooseRoute(routes('<sip:127.0.0.2:5062;lr>', '<sip:127.0.0.2:5060;lr>'), parseUri('sip:bob@10.0.0.9:5090'), w1);
    expect(p.next).toMatchObject({ address: '127.0.0.2', port: 5060 });
  });

  it('received from the Path the lb added (escaped URI)', () => {
    const uris = [parseUri('sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:40000%3Btransport%3Dtcp')];
    expect(receivedFromPath(uris)).toBe('tcp:198.51.100.7:40000');
    expect(receivedFromPath([parseUri('sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:4000')])).toBe('udp:198.51.100.7:4000');
    expect(receivedFromPath([parseUri('sip:127.0.0.2:5060;lr')])).toBeUndefined();
  });
});

describe('selectBestResponse (RFC 3261 §16.7 step 6)', () => {
  it.each([
    [[486, 480], 486],
    [[408, 404], 404],
    [[480, 603, 486], 603],
    [[503], 500],
    [[500, 503, 302], 302],
    [[487, 487], 487],
    [[480, 407], 407],
  ])('%j → %i', (statuses, status) => {
    expect(selectBestResponse(statuses)?.status).toBe(status);
  });
  it('nothing to choose from', () => expect(selectBestResponse([])).toBeUndefined());
});

describe('calleeCandidates', () => {
  it.each([
    ['bob', 'example.org', false, 'a.org', [{ kind: 'aor', username: 'bob', domain: 'example.org' }]],
    ['bob', '127.0.0.1', true, 'a.org', [{ kind: 'aor', username: 'bob', domain: 'a.org' }]],
    ['+4312345', 'example.org', false, 'a.org', [{ kind: 'aor', username: '+4312345', domain: 'example.org' }, { kind: 'number', e164: '4312345' }]],
    ['4312345', '127.0.0.1', true, 'a.org', [{ kind: 'aor', username: '4312345', domain: 'a.org' }, { kind: 'number', e164: '4312345' }]],
    [null, 'example.org', false, 'a.org', []],
  ] as const)('%s@%s', (user, host, ours, callerDomain, expected) => {
    expect(calleeCandidates(user, host, ours, callerDomain)).toEqual(expected);
  });
});
