/**
 * Record shapes returned by the DNS client, each with its TTL in seconds, and the
 * conversion from dns-packet answers with validation (a record whose data is not
 * what its type promises makes the whole response MALFORMED).
 */
import { isIPv4, isIPv6 } from 'node:net';
import type { Answer } from 'dns-packet';

export type DnsQueryType = 'NAPTR' | 'SRV' | 'A' | 'AAAA';

interface Base {
  /** Owner name, lower-case, no trailing dot. */
  name: string;
  ttl: number;
}
export interface ARecord extends Base {
  type: 'A';
  address: string;
}
export interface AaaaRecord extends Base {
  type: 'AAAA';
  address: string;
}
/** RFC 2782. `target` is '.' when the service is decidedly not available. */
export interface SrvRecord extends Base {
  type: 'SRV';
  priority: number;
  weight: number;
  port: number;
  target: string;
}
/** RFC 3403 §4.1. */
export interface NaptrRecord extends Base {
  type: 'NAPTR';
  order: number;
  preference: number;
  flags: string;
  services: string;
  regexp: string;
  replacement: string;
}
export interface CnameRecord extends Base {
  type: 'CNAME';
  target: string;
}

export type DnsRecord = ARecord | AaaaRecord | SrvRecord | NaptrRecord | CnameRecord;
export type RecordOf<T extends DnsRecord['type']> = Extract<DnsRecord, { type: T }>;

/** Lower-case, strip one trailing dot; the root stays '.'. */
export function normalizeName(n: string): string {
  if (n === '.' || n === '') return '.';
  return n.replace(/\.$/, '').toLowerCase();
}

/** RFC 1035 §2.3.4 limits: name ≤ 253 octets, labels 1..63. */
export function isValidName(n: string): boolean {
  if (n.length === 0 || n.length > 253) return false;
  return n.split('.').every((l) => l.length > 0 && l.length <= 63);
}

const u16 = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 0xffff;

export class BadRecord extends Error {}

/**
 * Convert one decoded answer. Returns undefined for types we don't use (OPT,
 * SOA, RRSIG …); throws BadRecord for a record whose data is invalid.
 */
export function toRecord(a: Answer): DnsRecord | undefined {
  if (a.type === 'OPT') return undefined;
  const name = normalizeName(a.name);
  const ttl = a.ttl ?? 0;
  switch (a.type) {
    case 'A':
      if (!isIPv4(a.data)) throw new BadRecord(`bad A data for ${name}`);
      return { type: 'A', name, ttl, address: a.data };
    case 'AAAA':
      if (!isIPv6(a.data)) throw new BadRecord(`bad AAAA data for ${name}`);
      return { type: 'AAAA', name, ttl, address: a.data.toLowerCase() };
    case 'CNAME':
      return { type: 'CNAME', name, ttl, target: normalizeName(a.data) };
    case 'SRV': {
      const { priority, weight, port, target } = a.data;
      if (!u16(priority) || !u16(weight) || !u16(port) || typeof target !== 'string') {
        throw new BadRecord(`bad SRV data for ${name}`);
      }
      return { type: 'SRV', name, ttl, priority, weight, port, target: normalizeName(target) };
    }
    case 'NAPTR': {
      const d = a.data;
      if (!u16(d.order) || !u16(d.preference) || typeof d.replacement !== 'string') {
        throw new BadRecord(`bad NAPTR data for ${name}`);
      }
      return {
        type: 'NAPTR',
        name,
        ttl,
        order: d.order,
        preference: d.preference,
        flags: d.flags,
        services: d.services,
        regexp: d.regexp,
        replacement: normalizeName(d.replacement),
      };
    }
    default:
      return undefined;
  }
}
