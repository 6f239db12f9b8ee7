/**
 * Pure ordering rules: RFC 2782 SRV selection and RFC 3263 §4.1 / RFC 3403 NAPTR
 * filtering. No I/O; randomness is injected so tests can seed it.
 */
import type { TransportName } from '../message/transports.js';
import type { NaptrRecord, SrvRecord } from './records.js';

/** Uniform random in [0, 1), like Math.random. */
export type RandomSource = () => number;

/**
 * RFC 2782 "Usage rules": lowest priority first; within one priority, repeatedly
 * pick a record with probability proportional to its weight. Weight-0 records are
 * put at the front of the candidate list before each draw, so they are chosen only
 * when the draw is 0 — "a very small chance" when others have weight (RFC 2782,
 * "Weight"); when every weight is 0 they are shuffled uniformly.
 * Records whose target is "." ("service decidedly not available") are dropped.
 */
export function orderSrv(records: readonly SrvRecord[], random: RandomSource = Math.random): SrvRecord[] {
  const usable = records.filter((r) => r.target !== '.');
  const priorities = [...new Set(usable.map((r) => r.priority))].sort((a, b) => a - b);
  const out: SrvRecord[] = [];
  for (const p of priorities) {
    let group = usable.filter((r) => r.priority === p);
    if (group.every((r) => r.weight === 0)) {
      out.push(...shuffle(group, random));
      continue;
    }
    while (group.length > 0) {
      // zero weights first, the rest in any order (we keep DNS order)
      group = [...group.filter((r) => r.weight === 0), ...group.filter((r) => r.weight > 0)];
      const sum = group.reduce((s, r) => s + r.weight, 0);
      if (sum === 0) {
        out.push(...shuffle(group, random)); // only weight-0 records left
        break;
      }
      const pick = Math.floor(random() * (sum + 1)); // uniform in 0..sum inclusive
      let running = 0;
      let idx = group.length - 1;
      for (let i = 0; i < group.length; i++) {
        running += group[i]?.weight ?? 0;
        if (running >= pick) {
          idx = i;
          break;
        }
      }
      const [chosen] = group.splice(idx, 1);
      if (chosen) out.push(chosen);
    }
  }
  return out;
}

function shuffle<T>(items: readonly T[], random: RandomSource): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const tmp = a[i] as T;
    a[i] = a[j] as T;
    a[j] = tmp;
  }
  return a;
}

/** True when an SRV answer says the service is not offered (only "." targets, RFC 2782). */
export function srvDeclined(records: readonly SrvRecord[]): boolean {
  return records.length > 0 && records.every((r) => r.target === '.');
}

export interface NaptrRule {
  transport: TransportName;
  /** Name to query SRV for. */
  replacement: string;
  order: number;
  preference: number;
}

/** RFC 3263 §4.1 service field values → transport. SCTP/WS are not supported. */
const SERVICES: Record<string, { transport: TransportName; secure: boolean }> = {
  'SIP+D2U': { transport: 'udp', secure: false },
  'SIP+D2T': { transport: 'tcp', secure: false },
  'SIPS+D2T': { transport: 'tls', secure: true },
};

/**
 * Usable NAPTR rules in processing order (RFC 3403 §4.1: Order ascending, then
 * Preference ascending; DNS order is kept for ties).
 * RFC 3263 §4.1: keep only "S" records (empty regexp, replacement = SRV name) for
 * transports the client supports; for a SIPS URI drop every non-SIPS service; for a
 * SIP URI keep SIPS services when TLS is supported.
 */
export function selectNaptr(records: readonly NaptrRecord[], opts: { secure: boolean; supported: readonly TransportName[] }): NaptrRule[] {
  const rules: NaptrRule[] = [];
  for (const r of records) {
    if (r.flags.toUpperCase() !== 'S' || r.regexp !== '' || r.replacement === '.') continue;
    const svc = SERVICES[r.services.toUpperCase()];
    if (!svc || (opts.secure && !svc.secure) || !opts.supported.includes(svc.transport)) continue;
    rules.push({ transport: svc.transport, replacement: r.replacement, order: r.order, preference: r.preference });
  }
  return rules.map((r, i) => ({ r, i })).sort((a, b) => a.r.order - b.r.order || a.r.preference - b.r.preference || a.i - b.i).map((x) => x.r);
}

/** SRV owner name for a transport (RFC 3263 §4.2: "_sips" for TLS). */
export function srvName(host: string, t: TransportName): string {
  return t === 'tls' ? `_sips._tcp.${host}` : `_sip._${t}.${host}`;
}
