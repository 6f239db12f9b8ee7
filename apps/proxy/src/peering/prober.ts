/**
 * OPTIONS probes of peering servers (Kamailio dispatcher's/drouting's pinging): every
 * `intervalMs` one OPTIONS to each server that is marked down or has `probe` set, to its
 * first RFC 3263 target, through the lb like a call (Route with `received`) or directly
 * without an lb. A response within `timeoutMs` that is not 408/5xx marks it up; anything
 * else counts as a failure (peer-health.ts). One probe per server at a time.
 */
import type { Logger } from 'pino';
import type { ClientTransaction, Destination, SipStack } from '@ngcp/sip';
import { newBranch, newCallId, newTag, SipRequest } from '@ngcp/sip';
import type { Peering } from './peering.js';
import { peerHop } from './peer-request.js';
import { attemptVerdict, type PeerServer } from './selection.js';

export interface PeerProberOptions {
  intervalMs: number;
  timeoutMs: number;
}

export class PeerProber {
  private timer: NodeJS.Timeout | null = null;
  private inFlight = new Set<number>();
  readonly stats = { probes: 0, answered: 0, failed: 0 };
  private log: Logger;

  constructor(
    private readonly peering: Peering,
    private readonly sip: () => SipStack,
    private readonly self: () => { address: string; port: number },
    logger: Logger,
    private readonly o: PeerProberOptions,
  ) {
    this.log = logger.child({ component: 'peer-prober' });
  }

  start(): void {
    this.timer = setInterval(() => void this.round(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Take over the other proxies' view (Redis), then probe every server that is down or wants probing. */
  async round(): Promise<void> {
    await this.peering.sync();
    for (const s of this.peering.allServers()) {
      if (this.inFlight.has(s.id)) continue;
      if (!s.probe && !this.peering.health.isDown(s.id)) continue;
      void this.probe(s);
    }
  }

  private async probe(s: PeerServer): Promise<void> {
    this.inFlight.add(s.id);
    this.stats.probes++;
    let settled = false;
    let ctx: ClientTransaction | null = null;
    const done = (ok: boolean, why: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      this.inFlight.delete(s.id);
      if (ctx) ctx.user = undefined;
      if (ok) {
        this.stats.answered++;
        this.peering.health.success(s.id);
      } else {
        this.stats.failed++;
        this.log.debug({ server: s.name, why }, 'probe failed');
        this.peering.health.failure(s.id);
      }
    };
    const timer = setTimeout(() => done(false, 'timeout'), this.o.timeoutMs);
    timer.unref();
    try {
      const targets = await this.peering.targets(s);
      const t = targets[0];
      if (!t) return done(false, 'no target');
      const self = this.self();
      const host = t.family === 6 ? `[${t.address}]` : t.address;
      const tp = t.transport === 'udp' ? '' : `;transport=${t.transport}`;
      const ruri = `sip:${host}:${t.port}${tp}`;
      const headers: Array<[string, string]> = [['Via', `SIP/2.0/UDP ${self.address}:${self.port};branch=${newBranch()}`], ['Max-Forwards', '70']];
      const hop = peerHop(t, this.peering.lb);
      const dest: Destination | undefined = hop.dest;
      if (!dest) return done(false, 'no lb for a tcp/tls peer');
      for (const r of hop.route) headers.push(['Route', r]);
      headers.push(
        ['From', `<sip:ngcp-proxy@${self.address}>;tag=${newTag()}`], ['To', `<${ruri}>`], ['Call-ID', newCallId(self.address)],
        ['CSeq', '1 OPTIONS'], ['User-Agent', 'ngcp-proxy peer probe'], ['Content-Length', '0'],
      );
      const req = new SipRequest('OPTIONS', ruri, headers);
      ctx = this.sip().sendRequest(req, dest, {
        onFinal: (res, _tx, origin) => done(origin === 'network' && attemptVerdict(res.status) !== 'next', `status ${res.status} (${origin})`),
      });
    } catch (err) {
      done(false, (err as Error).message);
    }
  }
}
