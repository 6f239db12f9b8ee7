/**
 * OPTIONS probing of the proxy set (Kamailio dispatcher's `ds_ping_interval`): every
 * `intervalMs` one OPTIONS per destination from the internal listener; any response
 * counts as an answer, none within `timeoutMs` as a miss (DestinationSet decides up/down).
 */
import type { ClientTransaction, SipStack } from '@ngcp/sip';
import { SipRequest, newBranch, newCallId, newTag } from '@ngcp/sip';
import type { Listener } from '../routing/route-set.js';
import type { Destination, DestinationSet } from './destinations.js';

export interface ProberOptions {
  intervalMs: number;
  timeoutMs: number;
}

export class Prober {
  private timer: NodeJS.Timeout | null = null;
  private readonly inFlight = new Set<Destination>();
  probes = 0;

  constructor(
    private readonly sip: SipStack,
    private readonly dests: DestinationSet,
    private readonly from: Listener,
    private readonly o: ProberOptions,
  ) {}

  start(): void {
    if (this.o.intervalMs <= 0 || this.timer) return;
    this.round();
    this.timer = setInterval(() => this.round(), this.o.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Probe every destination now (one probe per destination at a time). */
  round(): void {
    for (const d of this.dests.list) if (!this.inFlight.has(d)) this.probe(d);
  }

  private probe(d: Destination): void {
    const f = this.from;
    const local = `${f.address}:${f.port}`;
    const req = new SipRequest('OPTIONS', `sip:${d.address}:${d.port}`, [
      ['Via', `SIP/2.0/UDP ${local};branch=${newBranch()};rport`],
      ['Max-Forwards', '70'],
      ['From', `<sip:lb@${local}>;tag=${newTag()}`],
      ['To', `<sip:${d.address}:${d.port}>`],
      ['Call-ID', newCallId(f.address)],
      ['CSeq', '1 OPTIONS'],
      ['User-Agent', 'ngcp-lb probe'],
      ['Content-Length', '0'],
    ]);
    const started = Date.now();
    this.inFlight.add(d);
    this.probes++;
    let ctx: ClientTransaction | null = null;
    const done = (status: number | null): void => {
      if (!this.inFlight.has(d)) return;
      this.inFlight.delete(d);
      clearTimeout(timer);
      if (ctx) ctx.user = undefined;
      this.dests.probed(d, status, started, status === null ? null : Date.now() - started);
    };
    const timer = setTimeout(() => done(null), this.o.timeoutMs);
    timer.unref();
    try {
      ctx = this.sip.sendRequest(req, { transport: 'udp', address: d.address, port: d.port, localAddress: f.address, localPort: f.port }, {
        onFinal: (res, _tx, origin) => done(origin === 'network' ? res.status : null),
      });
    } catch {
      done(null);
    }
  }
}
