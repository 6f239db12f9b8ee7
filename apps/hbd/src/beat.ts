/**
 * The heartbeat on the wire: 32 bytes HMAC-SHA256 over the body, then the body, a JSON
 * object `{ v: 1, node, role, epoch, pings, priority, yielding, seq, ts }`. One UDP
 * datagram per beat and path; the same `seq` goes out on every path of one round.
 *
 * Receiving: a datagram that is too short, too long, wrongly signed or not a beat is
 * dropped and counted by reason; so is one whose `seq` is not newer than the last
 * accepted on that path (a replay), or one from a node that is not the configured peer.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Role } from './role-machine.js';

export interface Beat {
  node: string;
  role: Role;
  /** Generation of the active role this node knows (its own when active). */
  epoch: number;
  /** Ping nodes this node reached in its last round. */
  pings: number;
  priority: number;
  /** The sender stepped down on purpose (make_standby / SIGTERM) and wants the peer to take over. */
  yielding: boolean;
  /** Strictly increasing per sender, also across restarts (µs of the wall clock at start + count). */
  seq: number;
  /** Sender's wall clock, ms (diagnostics only). */
  ts: number;
}

export const DROP_REASONS = ['short', 'too_long', 'bad_signature', 'malformed', 'replay', 'unknown_node'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

const MAC_LEN = 32;
const MAX_LEN = 1024;

export function encodeBeat(beat: Beat, key: string): Buffer {
  const body = Buffer.from(JSON.stringify({ v: 1, ...beat }), 'utf8');
  const mac = createHmac('sha256', key).update(body).digest();
  return Buffer.concat([mac, body]);
}

/** A beat whose signature is right and whose fields are sane, or why not. */
export function decodeBeat(packet: Buffer, key: string): { beat: Beat } | { drop: DropReason } {
  if (packet.length <= MAC_LEN) return { drop: 'short' };
  if (packet.length > MAX_LEN) return { drop: 'too_long' };
  const body = packet.subarray(MAC_LEN);
  const want = createHmac('sha256', key).update(body).digest();
  if (!timingSafeEqual(want, packet.subarray(0, MAC_LEN))) return { drop: 'bad_signature' };
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return { drop: 'malformed' };
  }
  if (
    !j ||
    typeof j !== 'object' ||
    j.v !== 1 ||
    typeof j.node !== 'string' ||
    (j.role !== 'active' && j.role !== 'standby') ||
    !isCount(j.epoch) ||
    !isCount(j.pings) ||
    !isCount(j.priority) ||
    typeof j.yielding !== 'boolean' ||
    !isCount(j.seq) ||
    typeof j.ts !== 'number'
  ) {
    return { drop: 'malformed' };
  }
  return {
    beat: { node: j.node, role: j.role, epoch: j.epoch as number, pings: j.pings as number, priority: j.priority as number, yielding: j.yielding, seq: j.seq as number, ts: j.ts },
  };
}

function isCount(x: unknown): boolean {
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0;
}

/**
 * Per-path replay guard: accepts a beat of the expected peer whose seq is newer than the
 * last one accepted on this path.
 */
export class BeatFilter {
  private readonly last = new Map<string, number>();
  constructor(private readonly peer: string) {}

  check(path: string, beat: Beat): DropReason | null {
    if (beat.node !== this.peer) return 'unknown_node';
    const prev = this.last.get(path);
    if (prev !== undefined && beat.seq <= prev) return 'replay';
    this.last.set(path, beat.seq);
    return null;
  }
}

/** First seq of a sender: µs of the wall clock, so a restarted sender continues above its old beats. */
export function initialSeq(nowMs = Date.now()): number {
  return Math.floor(nowMs) * 1000;
}
