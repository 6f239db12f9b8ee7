/** Every rule of docs/ha.md (R1..R10) against the pure role machine, with fake observations. */
import { describe, expect, it } from 'vitest';
import { deferTakeover, decide, peerAlive, winsTie, type HaInput, type PeerView, type SelfView } from './role-machine.js';

const DEAD = 300;

function input(over: { self?: Partial<SelfView>; peer?: Partial<PeerView> | null; now?: number; peerLastSeen?: number | null; listeningSince?: number; pingAdvantageSince?: number | null; request?: HaInput['request'] } = {}): HaInput {
  const now = over.now ?? 10_000;
  return {
    now,
    deadtimeMs: DEAD,
    self: { node: 'sp1', priority: 100, role: 'standby', epoch: 3, pings: 1, pingnodes: 1, yielding: false, ...over.self },
    peer: over.peer === null ? null : { node: 'sp2', role: 'active', epoch: 3, pings: 1, priority: 100, yielding: false, ...over.peer },
    peerLastSeen: over.peerLastSeen === undefined ? now - 50 : over.peerLastSeen,
    listeningSince: over.listeningSince ?? 0,
    pingAdvantageSince: over.pingAdvantageSince ?? null,
    request: over.request ?? null,
  };
}

describe('R1: a node joins as standby and listens a full deadtime before any takeover', () => {
  it('peer silent but still within the listening window: stays standby', () => {
    const d = decide(input({ peerLastSeen: null, peer: null, listeningSince: 9_800 }));
    expect(d).toMatchObject({ role: 'standby', rule: 'R1' });
  });
  it('a returning node never preempts a live active peer, even after listening', () => {
    const d = decide(input({ self: { epoch: 0 }, peer: { role: 'active', epoch: 7 } }));
    expect(d).toMatchObject({ role: 'standby', epoch: 7 });
  });
  it('listening also holds the ping-advantage and nobody-active takeovers', () => {
    expect(decide(input({ self: { pings: 2 }, peer: { pings: 0 }, pingAdvantageSince: 0, listeningSince: 9_900 })).rule).toBe('R1');
    expect(decide(input({ peer: { role: 'standby' }, listeningSince: 9_900 })).rule).toBe('R1');
  });
});

describe('R2: the peer is alive while a beat came on any path within the deadtime', () => {
  it('judges by the newest beat of all paths', () => {
    expect(peerAlive({ now: 1000, deadtimeMs: DEAD, peerLastSeen: 700 })).toBe(true);
    expect(peerAlive({ now: 1000, deadtimeMs: DEAD, peerLastSeen: 699 })).toBe(false);
    expect(peerAlive({ now: 1000, deadtimeMs: DEAD, peerLastSeen: null })).toBe(false);
  });
  it('crosslink down but bridge beats arriving (peerLastSeen fresh): the standby does not take over', () => {
    const d = decide(input({ peerLastSeen: 10_000 - 100 }));
    expect(d).toMatchObject({ role: 'standby', rule: 'none' });
  });
});

describe('R3: takeover when the peer is dead on every path', () => {
  it('becomes active with an epoch above any it knows', () => {
    const d = decide(input({ self: { epoch: 3 }, peer: { epoch: 5 }, peerLastSeen: 10_000 - 400 }));
    expect(d).toMatchObject({ role: 'active', epoch: 6, rule: 'R3' });
  });
  it('also with no ping nodes configured, and with a peer never heard', () => {
    expect(decide(input({ self: { pingnodes: 0, pings: 0 }, peerLastSeen: null, peer: null }))).toMatchObject({ role: 'active', epoch: 4, rule: 'R3' });
  });
  it('an active node whose peer died simply stays active (same epoch)', () => {
    expect(decide(input({ self: { role: 'active', epoch: 4 }, peerLastSeen: 1 }))).toMatchObject({ role: 'active', epoch: 4 });
  });
});

describe('R4: an isolated standby (no peer, no ping node) stays standby', () => {
  it('peer dead and none of the configured ping nodes reached', () => {
    expect(decide(input({ self: { pings: 0, pingnodes: 2 }, peerLastSeen: null, peer: null }))).toMatchObject({ role: 'standby', rule: 'R4' });
  });
  it('nobody active and no ping node reached: stays standby', () => {
    expect(decide(input({ self: { pings: 0, pingnodes: 1 }, peer: { role: 'standby', pings: 0, priority: 1 } }))).toMatchObject({ role: 'standby', rule: 'R4' });
  });
});

describe('R5: the standby takes over when it reaches more ping nodes than the active, for a deadtime', () => {
  it('advantage held for the deadtime: takeover with a higher epoch', () => {
    const d = decide(input({ self: { pings: 2, pingnodes: 2 }, peer: { pings: 1, epoch: 3 }, pingAdvantageSince: 10_000 - DEAD }));
    expect(d).toMatchObject({ role: 'active', epoch: 4, rule: 'R5' });
  });
  it('advantage younger than the deadtime: not yet (no flapping on one lost probe)', () => {
    expect(decide(input({ self: { pings: 2, pingnodes: 2 }, peer: { pings: 1 }, pingAdvantageSince: 10_000 - 100 })).role).toBe('standby');
  });
  it('the active reaches no ping node at all (cut off): takeover at once, no hysteresis', () => {
    const d = decide(input({ self: { pings: 1, pingnodes: 1 }, peer: { pings: 0, epoch: 3 }, pingAdvantageSince: 10_000 - 10 }));
    expect(d).toMatchObject({ role: 'active', epoch: 4, rule: 'R5' });
  });
  it('both reach none: no takeover (R5 needs an advantage)', () => {
    expect(decide(input({ self: { pings: 0, pingnodes: 1 }, peer: { pings: 0 }, pingAdvantageSince: null })).role).toBe('standby');
  });
  it('equal counts: the active keeps the role', () => {
    expect(decide(input({ self: { pings: 1 }, peer: { pings: 1 }, pingAdvantageSince: 0 })).role).toBe('standby');
  });
});

describe('R6: both active — the higher epoch wins, the other steps down at once', () => {
  it('peer has the higher epoch: step down', () => {
    expect(decide(input({ self: { role: 'active', epoch: 4 }, peer: { role: 'active', epoch: 5 } }))).toMatchObject({ role: 'standby', epoch: 5, rule: 'R6' });
  });
  it('own epoch higher: stay active', () => {
    expect(decide(input({ self: { role: 'active', epoch: 6 }, peer: { role: 'active', epoch: 5 } }))).toMatchObject({ role: 'active', epoch: 6, rule: 'R6' });
  });
  it('equal epochs: higher priority wins, then the lower node id', () => {
    expect(decide(input({ self: { role: 'active', epoch: 5, priority: 100 }, peer: { role: 'active', epoch: 5, priority: 200 } })).role).toBe('standby');
    expect(decide(input({ self: { role: 'active', epoch: 5, priority: 200 }, peer: { role: 'active', epoch: 5, priority: 100 } })).role).toBe('active');
    expect(decide(input({ self: { node: 'sp1', role: 'active', epoch: 5 }, peer: { node: 'sp2', role: 'active', epoch: 5 } })).role).toBe('active');
    expect(decide(input({ self: { node: 'sp2', role: 'active', epoch: 5 }, peer: { node: 'sp1', role: 'active', epoch: 5 } })).role).toBe('standby');
  });
  it('a stale view of an active peer (its beats stopped) does not make the active step down', () => {
    expect(decide(input({ self: { role: 'active', epoch: 4 }, peer: { role: 'active', epoch: 9 }, peerLastSeen: 10_000 - 1000 })).role).toBe('active');
  });
  it('tie-break helper', () => {
    expect(winsTie({ node: 'a', priority: 1 }, { node: 'b', priority: 1 })).toBe(true);
    expect(winsTie({ node: 'a', priority: 1 }, { node: 'b', priority: 2 })).toBe(false);
  });
});

describe('R7: nobody active and the peer alive — one node takes the role', () => {
  it('the node that is not yielding takes over; the yielding one waits', () => {
    expect(decide(input({ peer: { role: 'standby', yielding: true } }))).toMatchObject({ role: 'active', rule: 'R7', epoch: 4 });
    expect(decide(input({ self: { yielding: true }, peer: { role: 'standby' } }))).toMatchObject({ role: 'standby', rule: 'R7' });
  });
  it('more ping nodes wins, else the tie-break', () => {
    expect(decide(input({ self: { pings: 2, pingnodes: 2 }, peer: { role: 'standby', pings: 1 } })).role).toBe('active');
    expect(decide(input({ self: { pings: 1, pingnodes: 2 }, peer: { role: 'standby', pings: 2 } })).role).toBe('standby');
    expect(decide(input({ self: { node: 'sp1' }, peer: { node: 'sp2', role: 'standby' } })).role).toBe('active');
    expect(decide(input({ self: { node: 'sp2' }, peer: { node: 'sp1', role: 'standby' } })).role).toBe('standby');
  });
  it('exactly one of the two takes the role (both sides evaluated)', () => {
    const a = decide(input({ self: { node: 'sp1' }, peer: { node: 'sp2', role: 'standby' } }));
    const b = decide(input({ self: { node: 'sp2' }, peer: { node: 'sp1', role: 'standby' } }));
    expect([a.role, b.role].filter((r) => r === 'active')).toHaveLength(1);
  });
});

describe('R8: make_active', () => {
  it('a standby takes the role with a higher epoch (the peer then steps down by R6)', () => {
    const d = decide(input({ request: 'make_active', peer: { role: 'active', epoch: 3 } }));
    expect(d).toMatchObject({ role: 'active', epoch: 4, rule: 'R8' });
    const peerSide = decide(input({ self: { node: 'sp2', role: 'active', epoch: 3 }, peer: { node: 'sp1', role: 'active', epoch: 4 } }));
    expect(peerSide).toMatchObject({ role: 'standby', rule: 'R6' });
  });
  it('already active: nothing changes', () => {
    expect(decide(input({ request: 'make_active', self: { role: 'active', epoch: 3 } }))).toMatchObject({ role: 'active', epoch: 3 });
  });
  it('works during the listening window (an operator order)', () => {
    expect(decide(input({ request: 'make_active', listeningSince: 9_999 })).role).toBe('active');
  });
});

describe('R9: make_standby hands over to a live peer, never to nobody', () => {
  it('active with a live standby peer: steps down yielding; the peer then takes over by R7', () => {
    const d = decide(input({ request: 'make_standby', self: { role: 'active', epoch: 4 }, peer: { role: 'standby', epoch: 4 } }));
    expect(d).toMatchObject({ role: 'standby', yielding: true, rule: 'R9' });
    const peerSide = decide(input({ self: { node: 'sp2', epoch: 4 }, peer: { node: 'sp1', role: 'standby', epoch: 4, yielding: true } }));
    expect(peerSide).toMatchObject({ role: 'active', epoch: 5, rule: 'R7' });
  });
  it('peer dead: refused, stays active', () => {
    const d = decide(input({ request: 'make_standby', self: { role: 'active' }, peerLastSeen: null, peer: null }));
    expect(d.role).toBe('active');
    expect(d.refused).toMatch(/not alive/);
  });
  it('a yielding standby still takes over if the peer then dies (R3)', () => {
    expect(decide(input({ self: { yielding: true }, peerLastSeen: 10_000 - 500 })).rule).toBe('R3');
  });
});

describe('R10: own stall is not the peer\'s death', () => {
  it('a standby resumed from SIGSTOP (listening restarted at resume) does not take over on stale beats', () => {
    const d = decide(input({ now: 20_000, peerLastSeen: 10_000, listeningSince: 20_000 }));
    expect(d).toMatchObject({ role: 'standby', rule: 'R1' });
  });
  it('an active resumed from SIGSTOP sees the new active with a higher epoch and steps down (R6), no flapping back', () => {
    const frozen = decide(input({ self: { role: 'active', epoch: 4 }, peer: { role: 'active', epoch: 5 } }));
    expect(frozen).toMatchObject({ role: 'standby', epoch: 5 });
    const after = decide(input({ self: { role: 'standby', epoch: 5 }, peer: { role: 'active', epoch: 5 } }));
    expect(after.role).toBe('standby');
  });
});

describe('R10 on every path: a takeover decided outside an overdue tick is left to the tick', () => {
  const base = { fromTick: false, request: null, role: 'standby', decided: 'active', now: 10_000, lastTick: 10_000 - 100, intervalMs: 100 } as const;
  it('a ping round or a beat deciding a takeover while the tick is 97 ms overdue (CI, both VMs paused) is deferred', () => {
    expect(deferTakeover({ ...base, lastTick: 10_000 - 197 })).toBe(true);
  });
  it('the same takeover with the tick on time is not deferred', () => {
    expect(deferTakeover({ ...base, lastTick: 10_000 - 120 })).toBe(false);
  });
  it('the tick itself, a request and any decision other than standby → active are never deferred', () => {
    expect(deferTakeover({ ...base, lastTick: 0, fromTick: true })).toBe(false);
    expect(deferTakeover({ ...base, lastTick: 0, request: 'make_active' })).toBe(false);
    expect(deferTakeover({ ...base, lastTick: 0, role: 'active', decided: 'standby' })).toBe(false);
    expect(deferTakeover({ ...base, lastTick: 0, role: 'active', decided: 'active' })).toBe(false);
  });
});
