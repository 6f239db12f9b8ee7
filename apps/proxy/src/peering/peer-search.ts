/**
 * The attempts of one outbound LCR call, produced one at a time (docs/routing.md): the
 * groups in order, in each group its servers that are not down in weighted random order,
 * for each server its RFC 3263 targets in order (a server that does not resolve is skipped).
 * Bounded by `MAX_PEER_ATTEMPTS`.
 */
import type { Target } from '@ngcp/sip';
import type { Peering } from './peering.js';
import type { GroupChoice, PeerServer } from './selection.js';

/** Attempts of one call at most (every server and target of every group counts one). */
export const MAX_PEER_ATTEMPTS = 12;

export interface PeerAttempt { group: GroupChoice; server: PeerServer; target: Target; n: number }

/** Normalise a dialled Request-URI user to digits (no '+', no visual separators), or null when it is no number. */
export function dialledNumber(user: string | null): string | null {
  if (!user) return null;
  let u = user;
  try {
    u = decodeURIComponent(user);
  } catch {
    // keep it as it is
  }
  const digits = u.replace(/[-.() ]/g, '');
  if (!/^\+?[0-9]{2,32}$/.test(digits)) return null;
  return digits.startsWith('+') ? digits.slice(1) : digits;
}

export class PeerSearch {
  private groups: GroupChoice[];
  private gi = 0;
  private servers: PeerServer[] | null = null;
  private si = 0;
  private targets: Target[] | null = null;
  private ti = 0;
  private count = 0;
  /** servers skipped because they did not resolve */
  readonly unresolved: PeerServer[] = [];

  constructor(private readonly peering: Peering, readonly callee: string, readonly caller: string, private readonly onDnsError: (s: PeerServer, err: Error) => void = () => undefined) {
    this.groups = peering.groups(callee, caller);
  }

  /** Whether any group matches the call at all (else: no route, 404). */
  get routable(): boolean {
    return this.groups.length > 0;
  }

  /** The next attempt, or undefined when none is left. */
  async next(): Promise<PeerAttempt | undefined> {
    while (this.count < MAX_PEER_ATTEMPTS) {
      if (this.targets && this.ti < this.targets.length) {
        const target = this.targets[this.ti++]!;
        this.count++;
        return { group: this.groups[this.gi]!, server: this.servers![this.si - 1]!, target, n: this.count };
      }
      this.targets = null;
      if (this.servers && this.si < this.servers.length) {
        const server = this.servers[this.si++]!;
        // a server marked down meanwhile (by another call) is skipped too
        if (this.peering.health.isDown(server.id)) continue;
        try {
          this.targets = await this.peering.targets(server);
        } catch (err) {
          this.unresolved.push(server);
          this.onDnsError(server, err as Error);
          this.targets = [];
        }
        if (this.targets.length === 0 && !this.unresolved.includes(server)) this.unresolved.push(server);
        this.ti = 0;
        continue;
      }
      if (this.servers !== null) this.gi++;
      if (this.gi >= this.groups.length) return undefined;
      this.servers = this.peering.servers(this.groups[this.gi]!);
      this.si = 0;
    }
    return undefined;
  }
}
