import { describe, expect, it } from 'vitest';
import { PeerHealth } from './peer-health.js';
import { peerRequestTarget } from './peer-request.js';
import { attemptVerdict, buildPeeringTable, orderServers, peerRuriUser, selectGroups, type BadRow, type PeeringRows, type PeerServer } from './selection.js';

const rows = (over: Partial<PeeringRows> = {}): PeeringRows => ({
  groups: [
    { id: 1, name: 'carrier-a', priority: 1 },
    { id: 2, name: 'carrier-b', priority: 2 },
    { id: 3, name: 'intl', priority: 1 },
    { id: 4, name: 'empty', priority: 1 },
  ],
  servers: [
    { id: 10, group_id: 1, name: 'a1', host: '127.0.0.50', port: 5070, transport: 'udp', weight: 1, probe: 0, enabled: 1 },
    { id: 11, group_id: 1, name: 'a2', host: 'sip.carrier-a.example', port: 5060, transport: 'udp', weight: 3, probe: 1, enabled: 1 },
    { id: 20, group_id: 2, name: 'b1', host: '127.0.0.51', port: 5060, transport: 'tcp', weight: 1, probe: 0, enabled: 1 },
    { id: 30, group_id: 3, name: 'i1', host: '127.0.0.52', port: 5060, transport: 'udp', weight: 1, probe: 0, enabled: 1 },
    { id: 40, group_id: 4, name: 'off', host: '127.0.0.53', port: 5060, transport: 'udp', weight: 1, probe: 0, enabled: 0 },
  ],
  rules: [
    { id: 1, group_id: 1, callee_prefix: '43', caller_pattern: null, callee_pattern: null, enabled: 1 },
    { id: 2, group_id: 2, callee_prefix: '43', caller_pattern: null, callee_pattern: null, enabled: 1 },
    { id: 3, group_id: 3, callee_prefix: '', caller_pattern: null, callee_pattern: null, enabled: 1 },
    { id: 4, group_id: 2, callee_prefix: '4399', caller_pattern: '^4311', callee_pattern: null, enabled: 1 },
    { id: 5, group_id: 4, callee_prefix: '', caller_pattern: null, callee_pattern: null, enabled: 1 },
    { id: 6, group_id: 1, callee_prefix: '49', caller_pattern: null, callee_pattern: null, enabled: 0 },
  ],
  prefs: [{ peering_server_id: 20, attribute: 'e164_to_ruri', value: '1' }],
  ...over,
});

const names = (cs: ReturnType<typeof selectGroups>): string[] => cs.map((c) => c.group.name);

describe('selectGroups', () => {
  const t = buildPeeringTable(rows());
  it('longest callee prefix first, then priority (1 first); each group once; no group without enabled servers', () => {
    expect(names(selectGroups(t, '4312345', '4311001'))).toEqual(['carrier-a', 'carrier-b', 'intl']);
    expect(names(selectGroups(t, '4912345', '4311001'))).toEqual(['intl']); // rule 6 disabled
  });
  it('a longer rule of a group moves the group up; caller pattern must match', () => {
    expect(names(selectGroups(t, '439912', '4311001'))).toEqual(['carrier-b', 'carrier-a', 'intl']);
    expect(selectGroups(t, '439912', '4311001')[0]!.calleePrefix).toBe('4399');
    expect(names(selectGroups(t, '439912', '4922222'))).toEqual(['carrier-a', 'carrier-b', 'intl']);
  });
  it('callee pattern filters', () => {
    const t2 = buildPeeringTable(rows({ rules: [{ id: 1, group_id: 1, callee_prefix: '', caller_pattern: null, callee_pattern: '^43[0-9]{5}$', enabled: 1 }] }));
    expect(names(selectGroups(t2, '4312345', 'x'))).toEqual(['carrier-a']);
    expect(selectGroups(t2, '43123456', 'x')).toEqual([]);
  });
});

describe('buildPeeringTable', () => {
  it('skips and reports bad rows, keeps the rest', () => {
    const bad: BadRow[] = [];
    const t = buildPeeringTable(rows({
      servers: [
        ...rows().servers,
        { id: 90, group_id: 99, name: 'orphan', host: '127.0.0.1', port: 5060, transport: 'udp', weight: 1, probe: 0, enabled: 1 },
        { id: 91, group_id: 1, name: 'badport', host: '127.0.0.1', port: 70000, transport: 'udp', weight: 1, probe: 0, enabled: 1 },
        { id: 92, group_id: 1, name: 'badtr', host: '127.0.0.1', port: 5060, transport: 'sctp', weight: 1, probe: 0, enabled: 1 },
        { id: 93, group_id: 1, name: 'badhost', host: 'a b', port: 5060, transport: 'udp', weight: 1, probe: 0, enabled: 1 },
      ],
      rules: [...rows().rules, { id: 97, group_id: 1, callee_prefix: '43', caller_pattern: '([', callee_pattern: null, enabled: 1 }, { id: 98, group_id: 1, callee_prefix: '4%', caller_pattern: null, callee_pattern: null, enabled: 1 }],
    }), (b) => bad.push(b));
    expect(bad.map((b) => `${b.table}:${b.id}`)).toEqual(['peering_servers:90', 'peering_servers:91', 'peering_servers:92', 'peering_servers:93', 'peering_rules:97', 'peering_rules:98']);
    expect([...t.servers.keys()].sort()).toEqual([10, 11, 20, 30]);
    expect(t.servers.get(20)!.e164ToRuri).toBe(true);
    expect(t.servers.get(11)!.probe).toBe(true);
    expect(names(selectGroups(t, '4312345', '1'))).toEqual(['carrier-a', 'carrier-b', 'intl']);
  });
});

describe('orderServers', () => {
  const s = (id: number, weight: number): PeerServer => ({ id, groupId: 1, name: `s${id}`, host: '127.0.0.1', port: 5060, transport: 'udp', weight, probe: false, e164ToRuri: false, rewriteSetId: null, auth: null, register: null });
  it('weighted random: a server comes first in proportion to its weight; weight 0 last', () => {
    const servers = [s(1, 1), s(2, 3), s(3, 0)];
    let seed = 1;
    const rnd = (): number => {
      seed = (seed * 16807) % 2147483647;
      return (seed - 1) / 2147483646;
    };
    const firsts = new Map<number, number>();
    for (let i = 0; i < 4000; i++) {
      const o = orderServers(servers, rnd);
      expect(o.map((x) => x.id).sort()).toEqual([1, 2, 3]);
      expect(o[2]!.id).toBe(3);
      firsts.set(o[0]!.id, (firsts.get(o[0]!.id) ?? 0) + 1);
    }
    const share = (firsts.get(2) ?? 0) / 4000;
    expect(share).toBeGreaterThan(0.7);
    expect(share).toBeLessThan(0.8);
  });
  it('deterministic with a fixed random; down servers left out', () => {
    expect(orderServers([s(1, 1), s(2, 1)], () => 0).map((x) => x.id)).toEqual([1, 2]);
    expect(orderServers([s(1, 1), s(2, 1)], () => 0.99).map((x) => x.id)).toEqual([2, 1]);
    expect(orderServers([s(1, 1), s(2, 1), s(3, 0)], () => 0, (x) => x.id !== 2).map((x) => x.id)).toEqual([2]);
  });
});

describe('attemptVerdict (failover order)', () => {
  it.each([
    [200, 'answered'], [202, 'answered'],
    [408, 'next'], [500, 'next'], [502, 'next'], [503, 'next'], [504, 'next'],
    [404, 'stop'], [486, 'stop'], [480, 'stop'], [487, 'stop'], [302, 'stop'], [603, 'stop'],
  ] as const)('%i → %s', (status, v) => expect(attemptVerdict(status)).toBe(v));
});

describe('peerRuriUser', () => {
  const base = { id: 1, groupId: 1, name: 'x', host: 'h', port: 5060, transport: 'udp' as const, weight: 1, probe: false, rewriteSetId: null, auth: null, register: null };
  it('E.164 with + only when the peer wants it', () => {
    expect(peerRuriUser({ ...base, e164ToRuri: true }, '4312345')).toBe('+4312345');
    expect(peerRuriUser({ ...base, e164ToRuri: false }, '+4312345')).toBe('4312345');
  });
});

describe('PeerHealth', () => {
  it('down after N failures in a row, up on the next success; changes reported once', () => {
    const ev: string[] = [];
    const h = new PeerHealth(2, (e) => ev.push(`${e.id}:${e.down ? 'down' : 'up'}`));
    h.failure(1);
    expect(h.isDown(1)).toBe(false);
    h.success(1);
    h.failure(1);
    expect(h.isDown(1)).toBe(false);
    h.failure(1);
    h.failure(1);
    expect(h.isDown(1)).toBe(true);
    h.success(1);
    expect(h.isDown(1)).toBe(false);
    expect(ev).toEqual(['1:down', '1:up']);
    h.failure(2);
    h.failure(2);
    h.retain(new Set([1]));
    expect(h.isDown(2)).toBe(false);
    expect(h.snapshot()).toEqual([]);
  });
});

describe('peerRequestTarget', () => {
  const server = { id: 1, groupId: 1, name: 'x', host: 'sip.carrier.example', port: 5060, transport: 'tcp' as const, weight: 1, probe: false, e164ToRuri: true, rewriteSetId: null, auth: null, register: null };
  it('through the lb: Route of the lb with the resolved target as received (escaped transport), R-URI as provisioned', () => {
    expect(peerRequestTarget(server, { transport: 'tcp', address: '192.0.2.7', port: 5070 }, '4930123', { address: '127.0.0.2', port: 5060 })).toEqual({
      ruri: 'sip:+4930123@sip.carrier.example:5060;transport=tcp',
      route: ['<sip:127.0.0.2:5060;lr;received=sip:192.0.2.7:5070%3Btransport%3Dtcp>'],
      dest: { transport: 'udp', address: '127.0.0.2', port: 5060 },
    });
  });
  it('without an lb: straight to a UDP target; a TCP one cannot be reached', () => {
    const udp = { ...server, transport: 'udp' as const, host: '2001:db8::1', e164ToRuri: false };
    expect(peerRequestTarget(udp, { transport: 'udp', address: '2001:db8::1', port: 5060 }, '4930123', null)).toEqual({
      ruri: 'sip:4930123@[2001:db8::1]:5060', route: [], dest: { transport: 'udp', address: '2001:db8::1', port: 5060 },
    });
    expect(peerRequestTarget(server, { transport: 'tcp', address: '192.0.2.7', port: 5060 }, '1', null).dest).toBeUndefined();
  });
});

describe('PeerHealth.apply (states seen by other proxies)', () => {
  it('a newer remote state wins, an older one is ignored; remote changes are reported as not local', () => {
    let t = 1000;
    const ev: string[] = [];
    const h = new PeerHealth(1, (e, local) => ev.push(`${e.id}:${e.down ? 'down' : 'up'}:${local ? 'here' : 'there'}`), () => t);
    h.apply(1, true, 900);
    expect(h.isDown(1)).toBe(true);
    h.apply(1, false, 800); // older than what we know
    expect(h.isDown(1)).toBe(true);
    t = 1100;
    h.success(1); // we saw it answer at 1100
    h.apply(1, true, 1050); // a down seen before that: ignored
    expect(h.isDown(1)).toBe(false);
    h.apply(1, true, 1200);
    expect(h.isDown(1)).toBe(true);
    expect(ev).toEqual(['1:down:there', '1:up:here', '1:down:there']);
  });
});
