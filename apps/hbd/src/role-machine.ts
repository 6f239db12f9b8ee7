/**
 * The role machine of the pair, as a pure function: what one node observes → the role it
 * takes. The rules R1..R10 are written out in docs/ha.md; each branch names its rule, and
 * role-machine.test.ts has a case for each. The driver (ha-node.ts) feeds it on every
 * tick and on every accepted beat, and does the I/O.
 */

export type Role = 'active' | 'standby';

/** What the node last heard from its peer (the newest accepted beat). */
export interface PeerView {
  node: string;
  role: Role;
  epoch: number;
  pings: number;
  priority: number;
  yielding: boolean;
}

export interface SelfView {
  node: string;
  priority: number;
  role: Role;
  epoch: number;
  /** Ping nodes reached in the last round. */
  pings: number;
  /** Ping nodes configured (0: no ping nodes, R4 does not apply). */
  pingnodes: number;
  /** This node stepped down on purpose and wants the peer to take over (R9). */
  yielding: boolean;
}

export interface HaInput {
  /** Monotonic ms. */
  now: number;
  deadtimeMs: number;
  self: SelfView;
  /** Newest accepted beat on any path (monotonic ms), or null if none yet. */
  peerLastSeen: number | null;
  peer: PeerView | null;
  /** R1/R10: the node listens for a full deadtime from here before it takes over (start, or after its own stall). */
  listeningSince: number;
  /** Since when (monotonic ms) own pings > peer's, continuously; null if not. */
  pingAdvantageSince: number | null;
  request?: 'make_active' | 'make_standby' | null;
}

export type RuleId = 'R1' | 'R3' | 'R4' | 'R5' | 'R6' | 'R7' | 'R8' | 'R9' | 'none';

export interface Decision {
  role: Role;
  epoch: number;
  yielding: boolean;
  rule: RuleId;
  reason: string;
  /** A request that cannot be honoured (R9 without a live peer). */
  refused?: string;
}

/**
 * R10 on every path: a takeover decided outside the tick (a ping round, a beat arriving)
 * while the tick itself is overdue by more than half an interval means this process's loop
 * is behind — stalled, or the machine paused it — and the peer's beats may be among the
 * events not read yet. Such a takeover is left to the overdue tick, which sees the gap and
 * listens again (R10) or decides itself. Requests (make_active/make_standby) and the tick's
 * own evaluation are never deferred.
 */
export function deferTakeover(input: {
  /** the evaluation comes from the tick itself */
  fromTick: boolean;
  request: 'make_active' | 'make_standby' | null;
  role: Role;
  decided: Role;
  now: number;
  lastTick: number;
  intervalMs: number;
}): boolean {
  if (input.fromTick || input.request !== null) return false;
  if (input.role !== 'standby' || input.decided !== 'active') return false;
  return input.now - input.lastTick > input.intervalMs * 1.5;
}

/** R2: the peer is alive while an accepted beat arrived on any path within the deadtime. */
export function peerAlive(input: Pick<HaInput, 'now' | 'deadtimeMs' | 'peerLastSeen'>): boolean {
  return input.peerLastSeen !== null && input.now - input.peerLastSeen <= input.deadtimeMs;
}

/** Tie-break between two nodes: true when `a` wins (higher priority, then lower node id). */
export function winsTie(a: { priority: number; node: string }, b: { priority: number; node: string }): boolean {
  if (a.priority !== b.priority) return a.priority > b.priority;
  return a.node < b.node;
}

export function decide(input: HaInput): Decision {
  const { self, peer } = input;
  const alive = peerAlive(input) && peer !== null;
  const known = Math.max(self.epoch, peer?.epoch ?? 0);
  const stay = (rule: RuleId, reason: string, extra: Partial<Decision> = {}): Decision => ({ role: self.role, epoch: known, yielding: self.yielding, rule, reason, ...extra });
  const takeOver = (rule: RuleId, reason: string): Decision => ({ role: 'active', epoch: known + 1, yielding: false, rule, reason });
  const stepDown = (rule: RuleId, reason: string, yielding = false): Decision => ({ role: 'standby', epoch: known, yielding, rule, reason });
  const listening = input.now - input.listeningSince < input.deadtimeMs;

  // R8: make_active — an operator's order; the peer steps down by R6 (our epoch is higher).
  if (input.request === 'make_active') {
    if (self.role === 'active') return stay('R8', 'already active');
    return takeOver('R8', 'make_active');
  }
  // R9: make_standby — only with a live standby peer to take over; it does by R7 (we yield).
  if (input.request === 'make_standby') {
    if (self.role === 'standby') return stay('R9', 'already standby');
    if (!alive) return stay('R9', 'refused', { refused: 'the peer is not alive: stepping down would leave no active node' });
    return stepDown('R9', 'make_standby: handing over to the peer', true);
  }

  if (self.role === 'active') {
    // R6: both claim active — the higher epoch wins (tie: priority, node id); the loser steps down at once.
    if (alive && peer.role === 'active') {
      const peerWins = peer.epoch > self.epoch || (peer.epoch === self.epoch && winsTie(peer, self));
      if (peerWins) return stepDown('R6', `peer ${peer.node} is active with epoch ${peer.epoch} (own ${self.epoch})`);
      return stay('R6', `peer ${peer.node} also claims active with epoch ${peer.epoch}; own ${self.epoch} wins`, { epoch: self.epoch });
    }
    // An active node keeps its role otherwise (peer dead, or peer standby): no rule.
    return stay('none', 'active', { epoch: self.epoch });
  }

  // From here: self is standby. R1/R10: no takeover before a full deadtime of listening.
  if (listening) return stay('R1', 'listening for the peer');

  if (!alive) {
    // R4: cut off — no peer and none of the configured ping nodes: this node is the isolated one.
    if (self.pingnodes > 0 && self.pings === 0) return stay('R4', 'peer dead but no ping node reachable: isolated, staying standby');
    // R3: the peer is dead on every path.
    return takeOver('R3', 'peer dead on every path');
  }
  if (peer.role === 'active') {
    // R5: the standby reaches more ping nodes than the active, for a full deadtime — at
    // once when the active reaches none (cut off from the network: nothing to flap about,
    // its own probes failed, typically its link is down).
    if (self.pings > peer.pings && self.pingnodes > 0 && peer.pings === 0) {
      return takeOver('R5', `reaching ${self.pings} ping nodes, the active peer none: it is cut off`);
    }
    if (self.pings > peer.pings && input.pingAdvantageSince !== null && input.now - input.pingAdvantageSince >= input.deadtimeMs) {
      return takeOver('R5', `reaching ${self.pings} ping nodes, the active peer ${peer.pings}`);
    }
    return stay('none', 'standby of a live active peer');
  }
  // R7: nobody is active — the node that is not yielding, then with more ping nodes, then by tie-break.
  if (self.yielding && !peer.yielding) return stay('R7', 'nobody active; yielding to the peer');
  if (peer.yielding && !self.yielding) return takeOver('R7', 'nobody active; the peer yields');
  if (self.pingnodes > 0 && self.pings === 0) return stay('R4', 'nobody active but no ping node reachable: staying standby');
  if (self.pings !== peer.pings) {
    return self.pings > peer.pings ? takeOver('R7', 'nobody active; more ping nodes than the peer') : stay('R7', 'nobody active; the peer reaches more ping nodes');
  }
  return winsTie(self, peer) ? takeOver('R7', 'nobody active; wins the tie-break') : stay('R7', 'nobody active; the peer wins the tie-break');
}
