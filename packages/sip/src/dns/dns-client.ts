/**
 * Minimal async DNS stub client (RFC 1035) for the record types SIP server
 * location needs: NAPTR, SRV, A, AAAA. Unlike node:dns it returns TTLs for every
 * record type, and the additional section, so the resolver can cache correctly.
 *
 * Per query: random ID and a fresh UDP socket (random source port, RFC 5452 §9.2),
 * response ID/question validation (§9.1), TCP retry when TC is set
 * (RFC 1035 §4.2.2, RFC 7766 §5), EDNS0 with a FORMERR fallback (RFC 6891 §7).
 * Retries go round the server list `attempts` times (resolv.conf semantics):
 * with servers A,B and attempts 2 the order is A,B,A,B.
 */
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';
import { DnsError } from './dns-error.js';
import type { DnsErrorCode } from './dns-error.js';
import { BadRecord, isValidName, normalizeName, toRecord } from './records.js';
import type { DnsQueryType, DnsRecord, RecordOf } from './records.js';
import { formatServer, loadResolvConf, parseServer } from './resolv-conf.js';
import type { DnsServer } from './resolv-conf.js';
import { tcpExchange, udpExchange } from './wire.js';
import type { Exchange, ExchangeHandle } from './wire.js';

export interface DnsClientOptions {
  /** `host:port` / `[v6]:port` / bare address. Default: `nameserver` lines of resolvConfPath. */
  servers?: readonly string[];
  /** Default '/etc/resolv.conf'; only read when `servers` is not given. */
  resolvConfPath?: string;
  /** Per-attempt timeout. Default 2000 ms (or resolv.conf `options timeout:`). */
  timeoutMs?: number;
  /** Rounds over the server list. Default 2 (or resolv.conf `options attempts:`). */
  attempts?: number;
  /** Retry over TCP when a UDP response has TC set. Default true. */
  tcpFallback?: boolean;
  /** EDNS0 UDP payload size advertised; 0 disables EDNS0. Default 1232. */
  ednsUdpSize?: number;
  /** CNAME chain limit. Default 8. */
  maxCnameHops?: number;
}

export type DnsStatus = 'ok' | 'nodata' | 'nxdomain';

export interface DnsResult<T extends DnsQueryType = DnsQueryType> {
  /** Name queried, normalised (lower-case, no trailing dot). */
  name: string;
  type: T;
  /** ok: records non-empty; nodata: name exists, no RRs of type; nxdomain: no such name. */
  status: DnsStatus;
  records: RecordOf<T>[];
  /** A/AAAA/SRV records from the additional section (RFC 2782, RFC 3403 §4.2). */
  additionals: DnsRecord[];
  /**
   * Seconds. ok: minimum TTL of the answer RRset and any CNAMEs followed.
   * nodata/nxdomain: min(SOA TTL, SOA MINIMUM) per RFC 2308 §5, undefined without SOA.
   */
  ttl: number | undefined;
  /** Owner name of the records after following CNAMEs. */
  canonicalName: string;
  /** Server that gave the final answer, `host:port`. */
  server: string;
  tcp: boolean;
}

/** What the resolver needs from a client; lets tests or apps substitute one. */
export interface DnsQuerier {
  query<T extends DnsQueryType>(name: string, type: T): Promise<DnsResult<T>>;
  close?(): void;
}

interface Parsed {
  rcode: number;
  answers: DnsRecord[];
  additionals: DnsRecord[];
  negativeTtl: number | undefined;
  server: string;
  tcp: boolean;
}

const RCODE_ERR: Record<number, DnsErrorCode> = { 1: 'FORMERR', 2: 'SERVFAIL', 4: 'NOTIMP', 5: 'REFUSED' };

interface Config {
  servers: DnsServer[];
  timeoutMs: number;
  attempts: number;
}

export class DnsClient implements DnsQuerier {
  private readonly opts: Readonly<DnsClientOptions>;
  private conf: Promise<Config> | undefined;
  private readonly inflight = new Set<ExchangeHandle>();
  private closed = false;

  constructor(opts: DnsClientOptions = {}) {
    const check = (v: number | undefined, min: number, what: string): void => {
      if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new DnsError('BADCONFIG', `${what} must be an integer >= ${min}`);
    };
    check(opts.timeoutMs, 1, 'timeoutMs');
    check(opts.attempts, 1, 'attempts');
    check(opts.ednsUdpSize, 0, 'ednsUdpSize');
    check(opts.maxCnameHops, 0, 'maxCnameHops');
    if (opts.servers) {
      if (opts.servers.length === 0) throw new DnsError('BADCONFIG', 'servers must not be empty');
      const servers = opts.servers.map((s) => parseServer(s)); // validate once, at construction
      this.conf = Promise.resolve({ servers, timeoutMs: opts.timeoutMs ?? 2000, attempts: opts.attempts ?? 2 });
    }
    this.opts = Object.freeze({ ...opts });
  }

  /** Servers in use (reads resolv.conf on first call when none were configured). */
  async servers(): Promise<string[]> {
    return (await this.config()).servers.map(formatServer);
  }

  private config(): Promise<Config> {
    this.conf ??= loadResolvConf(this.opts.resolvConfPath).then((rc) => ({
      servers: rc.servers,
      timeoutMs: this.opts.timeoutMs ?? (rc.timeoutSeconds ? rc.timeoutSeconds * 1000 : 2000),
      attempts: this.opts.attempts ?? rc.attempts ?? 2,
    }));
    return this.conf;
  }

  async query<T extends DnsQueryType>(name: string, type: T): Promise<DnsResult<T>> {
    if (this.closed) throw new DnsError('CANCELLED', 'DNS client closed', { name, type });
    const qname = normalizeName(name);
    if (!isValidName(qname)) throw new DnsError('BADNAME', `invalid DNS name ${JSON.stringify(name)}`, { name, type });
    const maxHops = this.opts.maxCnameHops ?? 8;
    let current = qname;
    let chainTtl = Infinity;
    for (let hop = 0; ; hop++) {
      const p = await this.exchange(current, type);
      const chain = followChain(p.answers, current, type, maxHops);
      chainTtl = Math.min(chainTtl, chain.cnameTtl);
      const base = { name: qname, type, additionals: p.additionals, canonicalName: chain.name, server: p.server, tcp: p.tcp };
      if (chain.records.length > 0) {
        const ttl = Math.min(chainTtl, ...chain.records.map((r) => r.ttl));
        return { ...base, status: 'ok', records: chain.records as RecordOf<T>[], ttl };
      }
      // RFC 6604: with a CNAME chain the RCODE describes the last name in it.
      if (p.rcode === 3) return { ...base, status: 'nxdomain', records: [], ttl: p.negativeTtl };
      // Chain ends at a name the server gave no data for: ask for it (RFC 1034 §5.3.3).
      if (chain.name !== current && hop < maxHops) {
        current = chain.name;
        continue;
      }
      return { ...base, status: 'nodata', records: [], ttl: p.negativeTtl };
    }
  }

  /** Cancel in-flight queries (they reject with CANCELLED) and refuse new ones. */
  close(): void {
    this.closed = true;
    for (const h of [...this.inflight]) h.cancel();
  }

  private async exchange(name: string, type: DnsQueryType): Promise<Parsed> {
    const { servers, timeoutMs, attempts } = await this.config();
    let last: DnsError | undefined;
    for (let round = 0; round < attempts; round++) {
      for (const server of servers) {
        try {
          return await this.ask(server, name, type, timeoutMs, (this.opts.ednsUdpSize ?? 1232) > 0);
        } catch (e) {
          if (!(e instanceof DnsError) || e.code === 'CANCELLED') throw e;
          last = e; // SERVFAIL, REFUSED, timeout, garbage: try the next server
        }
      }
    }
    throw last ?? new DnsError('TIMEOUT', 'no DNS servers', { name, type });
  }

  private async ask(server: DnsServer, name: string, type: DnsQueryType, timeoutMs: number, edns: boolean): Promise<Parsed> {
    const id = randomInt(0, 0x10000);
    const packet: Packet = {
      type: 'query',
      id,
      flags: dnsPacket.RECURSION_DESIRED,
      questions: [{ type, name, class: 'IN' }],
      additionals: edns
        ? [{ type: 'OPT', name: '.', udpPayloadSize: this.opts.ednsUdpSize ?? 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
        : [],
    };
    const x: Exchange = { server, query: dnsPacket.encode(packet), id, question: { name, type }, timeoutMs };
    let pkt = await this.run(udpExchange(x));
    let tcp = false;
    if (pkt.flag_tc && this.opts.tcpFallback !== false) {
      pkt = await this.run(tcpExchange(x));
      tcp = true;
    }
    const rcode = (pkt.flags ?? 0) & 0xf;
    if (rcode === 1 && edns) return this.ask(server, name, type, timeoutMs, false);
    if (rcode !== 0 && rcode !== 3) {
      throw new DnsError(RCODE_ERR[rcode] ?? 'BADRCODE', `DNS RCODE ${rcode} from ${formatServer(server)}`, { name, type }, formatServer(server));
    }
    try {
      return { rcode, ...parseSections(pkt), server: formatServer(server), tcp };
    } catch (e) {
      // BadRecord, or anything else thrown while reading untrusted data
      const msg = e instanceof BadRecord ? e.message : `unreadable DNS response: ${String(e)}`;
      throw new DnsError('MALFORMED', msg, { name, type }, formatServer(server), { cause: e });
    }
  }

  private async run(h: ExchangeHandle): Promise<DecodedPacket> {
    if (this.closed) h.cancel();
    this.inflight.add(h);
    try {
      return await h.promise;
    } finally {
      this.inflight.delete(h);
    }
  }
}

function parseSections(pkt: DecodedPacket): Pick<Parsed, 'answers' | 'additionals' | 'negativeTtl'> {
  const answers = (pkt.answers ?? []).map(toRecord).filter((r): r is DnsRecord => r !== undefined);
  const additionals = (pkt.additionals ?? [])
    .filter((a) => a.type === 'A' || a.type === 'AAAA' || a.type === 'SRV')
    .map(toRecord)
    .filter((r): r is DnsRecord => r !== undefined);
  let negativeTtl: number | undefined;
  for (const a of pkt.authorities ?? []) {
    if (a.type === 'SOA' && typeof a.data?.minimum === 'number') {
      negativeTtl = Math.min(a.ttl ?? 0, a.data.minimum); // RFC 2308 §5
    }
  }
  return { answers, additionals, negativeTtl };
}

/** Records of `type` at `name`, following CNAMEs inside the answer section. */
function followChain(answers: DnsRecord[], start: string, type: DnsQueryType, maxHops: number) {
  let name = start;
  let cnameTtl = Infinity;
  for (let hop = 0; hop <= maxHops; hop++) {
    const records = answers.filter((r) => r.type === type && r.name === name);
    if (records.length > 0) return { name, records, cnameTtl };
    const cname = answers.find((r) => r.type === 'CNAME' && r.name === name);
    if (!cname || cname.type !== 'CNAME') break;
    cnameTtl = Math.min(cnameTtl, cname.ttl);
    name = cname.target;
  }
  return { name, records: [] as DnsRecord[], cnameTtl };
}
