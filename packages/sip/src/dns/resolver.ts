/**
 * RFC 3263 §4 client-side server location: turns a SIP/SIPS URI host (+ optional
 * port and transport parameter) into an ordered list of (transport, address, port)
 * targets, via NAPTR → SRV → A/AAAA, with caching and a failover blacklist.
 */
import { isIP } from 'node:net';
import { Blacklist, destinationKey } from './blacklist.js';
import type { FailureReason } from './blacklist.js';
import { DnsCache } from './cache.js';
import { DnsClient } from './dns-client.js';
import type { DnsQuerier, DnsResult, DnsStatus } from './dns-client.js';
import { DnsError } from './dns-error.js';
import { normalizeName } from './records.js';
import type { DnsQueryType, DnsRecord, RecordOf } from './records.js';
import { defaultPort } from '../message/transports.js';
import type { TransportName } from '../message/transports.js';
import { orderSrv, selectNaptr, srvName } from './selection.js';
import type { RandomSource } from './selection.js';
import { TargetIterator } from './target-iterator.js';
import type { ResolveInput, SipResolverOptions, Target, TargetSource } from './types.js';

export type { ResolveInput, SipResolverOptions, Target, TargetSource } from './types.js';

interface Req {
  host: string;
  port: number | undefined;
  transport: TransportName | undefined;
  secure: boolean;
}
interface Ctx {
  errors: DnsError[];
}
/** found: SRV records existed (even if only "."); errored: the SRV query failed. */
interface SrvOutcome {
  found: boolean;
  errored: boolean;
  targets: Target[];
}
interface Lookup<T extends DnsQueryType> {
  status: DnsStatus;
  records: RecordOf<T>[];
}
type Addr = { address: string; family: 4 | 6 };

const NONE: SrvOutcome = { found: false, errored: false, targets: [] };
const ALL: readonly TransportName[] = ['udp', 'tcp', 'tls'];

export class SipResolver {
  readonly cache: DnsCache | undefined;
  readonly blacklist: Blacklist;
  private readonly client: DnsQuerier;
  private readonly ownsClient: boolean;
  private readonly inflight = new Map<string, Promise<Lookup<DnsQueryType>>>();
  private readonly supported: readonly TransportName[];
  private readonly fallbackOrder: readonly TransportName[];
  private readonly families: readonly (4 | 6)[];
  private readonly useNaptr: boolean;
  private readonly useAdditionals: boolean;
  private readonly random: RandomSource;

  constructor(opts: SipResolverOptions = {}) {
    const now = opts.now ?? Date.now;
    this.ownsClient = !opts.client;
    this.client = opts.client ?? new DnsClient(opts.dns);
    this.cache = opts.cache === false ? undefined : opts.cache instanceof DnsCache ? opts.cache : new DnsCache({ now, ...opts.cache });
    this.blacklist = new Blacklist({ seconds: opts.blacklistSeconds, maxEntries: opts.blacklistMaxEntries, now });
    this.supported = Object.freeze([...(opts.supportedTransports ?? ALL)]);
    this.fallbackOrder = Object.freeze([...(opts.srvFallbackOrder ?? ['tls', 'tcp', 'udp'])]);
    this.families = Object.freeze([...(opts.ipFamilies ?? [4, 6])]);
    this.useNaptr = opts.useNaptr ?? true;
    this.useAdditionals = opts.useAdditionals ?? true;
    this.random = opts.random ?? Math.random;
    if (this.supported.length === 0) throw new DnsError('BADCONFIG', 'supportedTransports must not be empty');
    for (const t of [...this.supported, ...this.fallbackOrder]) {
      if (!ALL.includes(t)) throw new DnsError('BADCONFIG', `unknown transport ${JSON.stringify(t)}`);
    }
    if (this.families.length === 0 || this.families.some((f) => f !== 4 && f !== 6)) {
      throw new DnsError('BADCONFIG', 'ipFamilies must be a non-empty list of 4 and/or 6');
    }
  }

  /**
   * Ordered targets for a URI (RFC 3263 §4.1, §4.2). Resolves to [] when DNS says
   * definitively there is nothing (NXDOMAIN/NODATA everywhere, or SRV "." targets);
   * rejects with DnsError when nothing was found and some lookup failed.
   */
  async resolve(input: ResolveInput): Promise<Target[]> {
    const req = this.normalize(input);
    const family = isIP(req.host);
    if (family === 4 || family === 6) {
      // §4.1/§4.2: numeric host, no DNS. UDP for sip, TLS (over TCP) for sips.
      const transport = req.transport ?? this.defaultTransport(req.secure);
      const port = req.port ?? defaultPort(transport);
      return [{ transport, address: req.host, port, family, host: req.host, domain: req.host, via: 'numeric' }];
    }
    const ctx: Ctx = { errors: [] };
    let targets: Target[];
    if (req.port !== undefined) {
      // §4.2: explicit port → A/AAAA only; transport from the parameter or §4.1 default.
      targets = await this.addressTargets(req, req.port, req.transport ?? this.defaultTransport(req.secure), ctx);
    } else if (req.transport) {
      // §4.2: transport known → SRV for that transport only, A/AAAA if no SRV.
      const r = await this.srvTargets(srvName(req.host, req.transport), req.transport, 'srv', req.host, ctx);
      targets = r.found || r.errored ? r.targets : await this.addressTargets(req, defaultPort(req.transport), req.transport, ctx);
    } else {
      // §4.1: NAPTR; none usable → SRV per supported transport; none → A/AAAA.
      let r = this.useNaptr ? await this.naptrTargets(req, ctx) : NONE;
      if (!r.found) r = await this.srvFallback(req, ctx);
      if (r.found || r.errored) targets = r.targets;
      else {
        const t = this.defaultTransport(req.secure);
        targets = await this.addressTargets(req, defaultPort(t), t, ctx);
      }
    }
    const seen = new Set<string>();
    targets = targets.filter((t) => !seen.has(destinationKey(t)) && seen.add(destinationKey(t)));
    if (targets.length === 0 && ctx.errors[0]) throw ctx.errors[0];
    return targets;
  }

  /** Failover iterator over resolve(input); see target-iterator.ts for the contract. */
  iterate(input: ResolveInput): TargetIterator {
    return new TargetIterator(() => this.resolve(input), this.blacklist);
  }

  /** Blacklist a destination for every caller (RFC 3263 §4.3 failure). */
  markFailed(target: Target, reason: FailureReason, seconds?: number): void {
    this.blacklist.add(destinationKey(target), reason, seconds);
  }

  /** A destination answered: take it off the blacklist. */
  markSucceeded(target: Target): void {
    this.blacklist.remove(destinationKey(target));
  }

  isBlacklisted(target: Target): boolean {
    return this.blacklist.has(destinationKey(target));
  }

  /** Cancel in-flight queries of an internally created client. */
  close(): void {
    if (this.ownsClient) this.client.close?.();
  }

  private normalize(input: ResolveInput): Req {
    let host = input.host.trim();
    if (host.startsWith('[') && host.endsWith(']')) host = host.slice(1, -1);
    host = host.replace(/\.$/, '').toLowerCase();
    const secure = input.secure ?? false;
    if (!host) throw new DnsError('BADTARGET', 'empty host');
    if (input.port !== undefined && !(Number.isInteger(input.port) && input.port > 0 && input.port <= 65535)) {
      throw new DnsError('BADTARGET', `bad port ${input.port}`);
    }
    let transport = input.transport;
    if (transport !== undefined && !ALL.includes(transport)) throw new DnsError('BADTARGET', `unknown transport ${transport}`);
    // RFC 3261 §26.2.2: a SIPS URI is reached over TLS; "tcp" means TLS over TCP, UDP is not allowed.
    if (secure && transport === 'tcp') transport = 'tls';
    if (secure && transport === 'udp') throw new DnsError('BADTARGET', 'sips URI cannot use transport=udp');
    return { host, port: input.port, transport, secure };
  }

  /** §4.1: UDP for sip (else another supported transport), TLS for sips. */
  private defaultTransport(secure: boolean): TransportName {
    if (secure) return 'tls';
    return this.supported.includes('udp') ? 'udp' : this.supported.includes('tcp') ? 'tcp' : 'tls';
  }

  private async naptrTargets(req: Req, ctx: Ctx): Promise<SrvOutcome> {
    const res = await this.lookupSafe(req.host, 'NAPTR', ctx); // an error here just means "no NAPTR"
    if (res?.status !== 'ok') return NONE;
    const rules = selectNaptr(res.records, { secure: req.secure, supported: this.supported });
    const outs = await Promise.all(rules.map((r) => this.srvTargets(r.replacement, r.transport, 'naptr', req.host, ctx)));
    return merge(outs);
  }

  private async srvFallback(req: Req, ctx: Ctx): Promise<SrvOutcome> {
    // §4.1: "_sips" for SIPS URIs; a SIP URI may also use _sips._tcp when TLS is supported.
    const order = req.secure ? (['tls'] as const) : this.fallbackOrder.filter((t) => this.supported.includes(t));
    return merge(await Promise.all(order.map((t) => this.srvTargets(srvName(req.host, t), t, 'srv', req.host, ctx))));
  }

  private async srvTargets(name: string, transport: TransportName, via: TargetSource, domain: string, ctx: Ctx): Promise<SrvOutcome> {
    const res = await this.lookupSafe(name, 'SRV', ctx);
    if (!res) return { ...NONE, errored: true };
    if (res.status !== 'ok') return NONE;
    const ordered = orderSrv(res.records, this.random); // RFC 2782; "." dropped
    const lists = await Promise.all(ordered.map((r) => this.addresses(r.target, ctx)));
    const targets = ordered.flatMap((r, i) =>
      (lists[i] ?? []).map((a) => ({ transport, ...a, port: r.port, host: r.target, domain, priority: r.priority, weight: r.weight, via })),
    );
    return { found: true, errored: false, targets };
  }

  private async addressTargets(req: Req, port: number, transport: TransportName, ctx: Ctx): Promise<Target[]> {
    const addrs = await this.addresses(req.host, ctx);
    return addrs.map((a) => ({ transport, ...a, port, host: req.host, domain: req.host, via: 'a' as const }));
  }

  /** A and AAAA in parallel, concatenated in `ipFamilies` order (§4.2). */
  private async addresses(host: string, ctx: Ctx): Promise<Addr[]> {
    const fam = isIP(host);
    if (fam === 4 || fam === 6) return [{ address: host, family: fam }]; // lenient: numeric SRV target
    const lists = await Promise.all(this.families.map((f) => this.lookupSafe(host, f === 4 ? 'A' : 'AAAA', ctx)));
    return this.families.flatMap((family, i) => (lists[i]?.records ?? []).map((r) => ({ address: r.address, family })));
  }

  private async lookupSafe<T extends DnsQueryType>(name: string, type: T, ctx: Ctx): Promise<Lookup<T> | undefined> {
    try {
      return await this.lookup(name, type);
    } catch (e) {
      if (!(e instanceof DnsError)) throw e;
      ctx.errors.push(e);
      return undefined;
    }
  }

  /** Cache first, then one shared in-flight query per (name, type). */
  private lookup<T extends DnsQueryType>(name: string, type: T): Promise<Lookup<T>> {
    const n = normalizeName(name);
    const hit = this.cache?.get(n, type);
    if (hit) return Promise.resolve(hit);
    const key = `${type} ${n}`;
    let p = this.inflight.get(key);
    if (!p) {
      p = this.client
        .query(n, type)
        .then((res) => {
          this.store(res as unknown as DnsResult);
          return { status: res.status, records: res.records };
        })
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p as unknown as Promise<Lookup<T>>;
  }

  private store(res: DnsResult): void {
    if (!this.cache) return;
    if (res.status === 'ok') this.cache.setPositive(res.name, res.type, res.records, { ttl: res.ttl });
    else this.cache.setNegative(res.name, res.type, res.status, res.ttl);
    if (this.useAdditionals && res.status === 'ok' && (res.type === 'SRV' || res.type === 'NAPTR')) this.storeAdditionals(res);
  }

  /**
   * RFC 2782 / RFC 3403 §4.2 additional-section processing: keep only data for
   * names the answer points at (NAPTR replacement → its SRV → SRV targets).
   */
  private storeAdditionals(res: DnsResult): void {
    const wanted = new Set<string>();
    for (const r of res.records) {
      if (r.type === 'SRV') wanted.add(r.target);
      if (r.type === 'NAPTR') wanted.add(r.replacement);
    }
    const groups = new Map<string, DnsRecord[]>();
    for (const type of ['SRV', 'A', 'AAAA'] as const) {
      for (const r of res.additionals) {
        if (r.type !== type || !wanted.has(r.name)) continue;
        if (r.type === 'SRV') wanted.add(r.target);
        const k = `${type} ${r.name}`;
        groups.set(k, [...(groups.get(k) ?? []), r]);
      }
    }
    for (const [k, recs] of groups) {
      const [type, name] = k.split(' ') as [DnsQueryType, string];
      this.cache?.setPositive(name, type, recs, { additional: true });
    }
  }
}

function merge(outs: SrvOutcome[]): SrvOutcome {
  return {
    found: outs.some((o) => o.found),
    errored: outs.some((o) => o.errored),
    targets: outs.flatMap((o) => o.targets),
  };
}
