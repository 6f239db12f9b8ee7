/**
 * Test helper (exported from `@ngcp/sip/testing`, not the main entry): a tiny authoritative DNS server on
 * 127.0.0.1 (UDP + TCP on the same random free port) serving a zone given as data,
 * with switches to misbehave (drop, delay, TC, SERVFAIL, malformed answers).
 * Lets resolver tests run against real sockets without touching real DNS.
 *
 *   const srv = await TestDnsServer.start({ zone: [{ name: 'a.test', type: 'A', data: '192.0.2.1' }] });
 *   new DnsClient({ servers: [srv.address] }) …; await srv.close();
 */
import dgram from 'node:dgram';
import net from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, Packet } from 'dns-packet';

export type ZoneRecord =
  | { name: string; type: 'A' | 'AAAA' | 'CNAME'; ttl?: number; data: string }
  | { name: string; type: 'SRV'; ttl?: number; data: { priority: number; weight: number; port: number; target: string } }
  | {
      name: string;
      type: 'NAPTR';
      ttl?: number;
      data: { order: number; preference: number; flags: string; services: string; regexp: string; replacement: string };
    };

export interface Behaviour {
  /** true: ignore every query; a number: ignore the next n queries. */
  drop?: boolean | number;
  /** Answer after this many ms. */
  delayMs?: number;
  /** Answer UDP queries with TC set and no records (TCP answers normally). */
  truncate?: boolean;
  /** Answer with this error RCODE. */
  rcode?: 'SERVFAIL' | 'REFUSED' | 'NOTIMP' | 'FORMERR';
  /** Send a broken answer instead of the real one. */
  malformed?: 'garbage' | 'cut' | 'bad-a-record' | 'wrong-id' | 'wrong-question';
  /** Put A/AAAA (and SRV, for NAPTR) for the targets in the additional section. */
  additionals?: boolean;
  /** Rewrite the encoded response before it is sent (fuzzing). */
  mutate?: (response: Buffer) => Buffer;
}

export interface SeenQuery {
  name: string;
  type: string;
  transport: 'udp' | 'tcp';
  id: number;
  /** The query carried an EDNS0 OPT record. */
  edns: boolean;
}

export interface TestDnsServerOptions {
  zone?: ZoneRecord[];
  behaviour?: Behaviour;
  /** Per-query override merged over `behaviour`. */
  onQuery?: (q: SeenQuery) => Behaviour | undefined;
  /** SOA in negative answers: TTL and MINIMUM (RFC 2308). null: no SOA. Default 60. */
  negativeTtl?: number | null;
}

const norm = (n: string): string => n.replace(/\.$/, '').toLowerCase();
const RCODES = { SERVFAIL: 2, REFUSED: 5, NOTIMP: 4, FORMERR: 1 } as const;

export class TestDnsServer {
  zone: ZoneRecord[];
  behaviour: Behaviour;
  onQuery: TestDnsServerOptions['onQuery'];
  negativeTtl: number | null;
  readonly queries: SeenQuery[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly conns = new Set<net.Socket>();

  private constructor(
    private readonly udp: dgram.Socket,
    private readonly tcp: net.Server,
    readonly port: number,
    opts: TestDnsServerOptions,
  ) {
    this.zone = opts.zone ?? [];
    this.behaviour = opts.behaviour ?? {};
    this.onQuery = opts.onQuery;
    this.negativeTtl = opts.negativeTtl === undefined ? 60 : opts.negativeTtl;
    udp.on('message', (msg, rinfo) => this.handle(msg, 'udp', (b) => udp.send(b, rinfo.port, rinfo.address)));
    tcp.on('connection', (sock) => this.accept(sock));
  }

  static async start(opts: TestDnsServerOptions = {}): Promise<TestDnsServer> {
    for (let i = 0; i < 20; i++) {
      const udp = dgram.createSocket('udp4');
      await new Promise<void>((res, rej) => udp.once('error', rej).bind(0, '127.0.0.1', () => res()));
      const port = udp.address().port;
      const tcp = net.createServer();
      const ok = await new Promise<boolean>((res) => {
        tcp.once('error', () => res(false));
        tcp.listen(port, '127.0.0.1', () => res(true));
      });
      if (ok) return new TestDnsServer(udp, tcp, port, opts);
      udp.close(); // TCP port taken: try another
    }
    throw new Error('TestDnsServer: no free port');
  }

  /** `127.0.0.1:port`, as DnsClient `servers` expects. */
  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Number of queries seen, optionally for one name and/or type. */
  count(name?: string, type?: string): number {
    return this.queries.filter((q) => (name === undefined || q.name === norm(name)) && (type === undefined || q.type === type)).length;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    for (const c of this.conns) c.destroy();
    await Promise.all([new Promise<void>((r) => this.udp.close(() => r())), new Promise<void>((r) => this.tcp.close(() => r()))]);
  }

  private accept(sock: net.Socket): void {
    this.conns.add(sock);
    sock.on('close', () => this.conns.delete(sock));
    sock.on('error', () => sock.destroy());
    let buf = Buffer.alloc(0);
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const len = buf.readUInt16BE(0);
        const msg = buf.subarray(2, 2 + len);
        buf = buf.subarray(2 + len);
        this.handle(msg, 'tcp', (b) => {
          const l = Buffer.alloc(2);
          l.writeUInt16BE(b.length);
          if (!sock.destroyed) sock.write(Buffer.concat([l, b]));
        });
      }
    });
  }

  private handle(msg: Buffer, transport: 'udp' | 'tcp', send: (b: Buffer) => void): void {
    let q: DecodedPacket;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const edns = (q.additionals ?? []).some((a) => a.type === 'OPT');
    const seen: SeenQuery = { name: norm(question.name), type: question.type, transport, id: q.id ?? 0, edns };
    this.queries.push(seen);
    const b: Behaviour = { ...this.behaviour, ...this.onQuery?.(seen) };
    if (b.drop === true) return;
    if (typeof b.drop === 'number' && b.drop > 0) {
      if (this.behaviour.drop === b.drop) this.behaviour.drop = b.drop - 1;
      return;
    }
    const encoded = this.respond(q, seen, b, transport);
    const out = b.mutate ? b.mutate(encoded) : encoded;
    if (!b.delayMs) return send(out);
    const t = setTimeout(() => {
      this.timers.delete(t);
      send(out);
    }, b.delayMs);
    this.timers.add(t);
  }

  private respond(q: DecodedPacket, seen: SeenQuery, b: Behaviour, transport: 'udp' | 'tcp'): Buffer {
    const id = q.id ?? 0;
    const base: Packet = { type: 'response', id, flags: dnsPacket.AUTHORITATIVE_ANSWER | (q.flags ?? 0) & dnsPacket.RECURSION_DESIRED, questions: q.questions };
    if (b.rcode) return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | RCODES[b.rcode] });
    if (b.malformed) return this.malformed(b.malformed, base, seen);
    const r = this.lookup(seen.name, seen.type, b.additionals ?? false);
    const full = dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | r.rcode, answers: r.answers, authorities: r.authorities, additionals: r.additionals });
    const opt = q.additionals?.find((a) => a.type === 'OPT');
    const limit = opt && opt.type === 'OPT' ? opt.udpPayloadSize : 512;
    if (transport === 'udp' && (b.truncate || full.length > limit)) {
      return dnsPacket.encode({ ...base, flags: (base.flags ?? 0) | dnsPacket.TRUNCATED_RESPONSE });
    }
    return full;
  }

  private malformed(kind: NonNullable<Behaviour['malformed']>, base: Packet, seen: SeenQuery): Buffer {
    const id = base.id ?? 0;
    switch (kind) {
      case 'garbage': {
        const out = Buffer.from([0, 0, 0x84, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0xc0, 0xff, 0xc0, 0xff, 0x3f, 0x01]);
        out.writeUInt16BE(id, 0);
        return out;
      }
      case 'cut': {
        const full = dnsPacket.encode({ ...base, answers: [{ name: seen.name, type: 'A', ttl: 60, data: '192.0.2.1' }] });
        return full.subarray(0, full.length - 7);
      }
      case 'bad-a-record': {
        // valid framing, but the A record's RDATA is 3 octets
        const full = dnsPacket.encode({ ...base, answers: [{ name: seen.name, type: 'A', ttl: 60, data: '192.0.2.1' }] });
        const out = Buffer.from(full.subarray(0, full.length - 1));
        out.writeUInt16BE(3, out.length - 5);
        return out;
      }
      case 'wrong-id':
        return dnsPacket.encode({ ...base, id: (id + 1) & 0xffff });
      case 'wrong-question':
        return dnsPacket.encode({ ...base, questions: [{ name: `x.${seen.name}`, type: 'A', class: 'IN' }] });
    }
  }

  /** Authoritative lookup with CNAME chasing, NODATA vs NXDOMAIN, optional additionals. */
  private lookup(qname: string, qtype: string, withAdditionals: boolean) {
    const answers: Answer[] = [];
    let cur = qname;
    for (let hop = 0; hop < 8; hop++) {
      const recs = this.records(cur, qtype);
      if (recs.length > 0) {
        answers.push(...recs);
        break;
      }
      const cname = this.records(cur, 'CNAME')[0];
      if (!cname || cname.type !== 'CNAME') break;
      answers.push(cname);
      cur = norm(cname.data);
    }
    const found = answers.some((a) => a.type === qtype);
    const exists = this.zone.some((r) => norm(r.name) === cur || norm(r.name).endsWith(`.${cur}`));
    const rcode = found || exists ? 0 : 3;
    const authorities: Answer[] =
      found || this.negativeTtl === null
        ? []
        : [{ name: 'test', type: 'SOA', ttl: this.negativeTtl, data: { mname: 'ns.test', rname: 'hostmaster.test', minimum: this.negativeTtl } }];
    const additionals: Answer[] = [];
    if (withAdditionals && found) {
      const srvNames = answers.flatMap((a) => (a.type === 'NAPTR' ? [norm(a.data.replacement)] : []));
      const srvs = srvNames.flatMap((n) => this.records(n, 'SRV'));
      const targets = [...answers, ...srvs].flatMap((a) => (a.type === 'SRV' ? [norm(a.data.target)] : []));
      additionals.push(...srvs, ...targets.flatMap((t) => [...this.records(t, 'A'), ...this.records(t, 'AAAA')]));
    }
    return { rcode, answers, authorities, additionals };
  }

  private records(name: string, type: string): Answer[] {
    return this.zone
      .filter((r) => norm(r.name) === name && r.type === type)
      .map((r) => ({ name: r.name, type: r.type, ttl: r.ttl ?? 300, data: r.data }) as Answer);
  }
}

/** Deterministic PRNG (mulberry32) for seeding RFC 2782 weighted selection in tests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
