/**
 * The proxy set and each destination's state: up/down from probes and request
 * timeouts (down after `failures` consecutive misses, up on the next answer), set by
 * hand through `dispatcher.set` (a destination set down by hand stays down until set up
 * by hand), the last probe. No I/O: the prober and the forwarder report into it.
 */
import type { SipRequest } from '@ngcp/sip';
import type { DispatchAlgorithm, ProxyDestinationConfig } from '../config.js';
import { dispatchKey, dispatchOrder } from './select.js';

export interface Destination {
  /** `address:port` — the name used by the control methods and the metric label. */
  readonly id: string;
  readonly address: string;
  readonly port: number;
  readonly weight: number;
  up: boolean;
  /** Set down by hand (dispatcher.set): probes do not bring it up. */
  adminDown: boolean;
  misses: number;
  lastProbe: { at: number; status: number | null; rttMs: number | null } | null;
}

export interface DestinationView {
  destination: string;
  address: string;
  port: number;
  weight: number;
  state: 'up' | 'down';
  admin_down: boolean;
  misses: number;
  last_probe: { at: string; status: number | null; rtt_ms: number | null } | null;
}

export type StateChange = (d: Destination) => void;

export class DestinationSet {
  readonly list: Destination[];
  private rr = 0;

  constructor(
    proxies: readonly ProxyDestinationConfig[],
    private readonly algorithm: DispatchAlgorithm,
    private readonly failures: number,
    private readonly onChange: StateChange = () => undefined,
  ) {
    this.list = proxies.map((p) => ({
      id: `${p.address}:${p.port}`, address: p.address, port: p.port, weight: p.weight,
      up: true, adminDown: false, misses: 0, lastProbe: null,
    }));
  }

  byId(id: string): Destination | undefined {
    return this.list.find((d) => d.id === id);
  }

  /** The destination at host:port, if it is one of the set. */
  find(address: string, port: number): Destination | undefined {
    return this.list.find((d) => d.address === address && d.port === port);
  }

  /** Destinations to try for `req`, in order (see dispatchOrder); empty when none is up. Throws SipParseError on headers the key needs. */
  order(req: SipRequest): Destination[] {
    const key = dispatchKey(req, this.algorithm);
    const idx = dispatchOrder(this.list, this.algorithm, key, key === null ? this.rr++ : 0);
    return idx.map((i) => this.list[i]!);
  }

  /** A probe or a forwarded request got no answer. */
  miss(d: Destination): void {
    d.misses++;
    if (d.up && d.misses >= this.failures) this.setUp(d, false);
  }

  /** Any answer from the destination. */
  answered(d: Destination): void {
    d.misses = 0;
    if (!d.up && !d.adminDown) this.setUp(d, true);
  }

  probed(d: Destination, status: number | null, at: number, rttMs: number | null): void {
    d.lastProbe = { at, status, rttMs };
    if (status === null) this.miss(d);
    else this.answered(d);
  }

  /** dispatcher.set */
  setByHand(d: Destination, up: boolean): void {
    d.adminDown = !up;
    d.misses = 0;
    this.setUp(d, up);
  }

  /** State read back from Redis (dispatcher:state): another lb's view, taken over as is. */
  restore(d: Destination, up: boolean, adminDown: boolean): void {
    d.adminDown = adminDown;
    d.misses = 0;
    this.setUp(d, up && !adminDown);
  }

  view(): DestinationView[] {
    return this.list.map((d) => ({
      destination: d.id, address: d.address, port: d.port, weight: d.weight,
      state: d.up ? 'up' : 'down', admin_down: d.adminDown, misses: d.misses,
      last_probe: d.lastProbe === null ? null : { at: new Date(d.lastProbe.at).toISOString(), status: d.lastProbe.status, rtt_ms: d.lastProbe.rttMs },
    }));
  }

  private setUp(d: Destination, up: boolean): void {
    if (d.up === up) return;
    d.up = up;
    this.onChange(d);
  }
}
