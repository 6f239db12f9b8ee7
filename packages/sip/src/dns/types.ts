/** Public shapes of the SIP resolver (RFC 3263). */
import type { DnsCache, DnsCacheOptions } from './cache.js';
import type { DnsClientOptions, DnsQuerier } from './dns-client.js';
import type { TransportName } from '../message/transports.js';
import type { RandomSource } from './selection.js';

export interface ResolveInput {
  /** URI host: name, IPv4, or IPv6 with or without brackets. */
  host: string;
  /** Explicit URI port: A/AAAA only, no SRV (RFC 3263 §4.2). */
  port?: number;
  /** URI `transport` parameter. */
  transport?: TransportName;
  /** true for a sips: URI (RFC 3261 §26.2.2). */
  secure?: boolean;
}

export type TargetSource = 'naptr' | 'srv' | 'a' | 'numeric';

export interface Target {
  transport: TransportName;
  address: string;
  port: number;
  family: 4 | 6;
  /** Name the address was found under (SRV target, or the URI host). */
  host: string;
  /** The URI host: the identity to check in the server's TLS certificate (RFC 5922 §4). */
  domain: string;
  /** From the SRV record, when one was used. */
  priority?: number;
  weight?: number;
  via: TargetSource;
}

export interface SipResolverOptions {
  /** DNS client to use; default a DnsClient built from `dns`. */
  client?: DnsQuerier;
  dns?: DnsClientOptions;
  /** Cache instance, options for one, or false to disable. Default: new DnsCache(). */
  cache?: DnsCache | DnsCacheOptions | false;
  /** Transports this element can use. Default ['udp','tcp','tls']. */
  supportedTransports?: readonly TransportName[];
  /** SRV queries when there is no NAPTR (RFC 3263 §4.1). Default ['tls','tcp','udp']. */
  srvFallbackOrder?: readonly TransportName[];
  /** Address families to query, in preference order. Default [4, 6]. */
  ipFamilies?: readonly (4 | 6)[];
  /** Do the NAPTR step. Default true. */
  useNaptr?: boolean;
  /** Use A/AAAA/SRV from additional sections (needs the cache). Default true. */
  useAdditionals?: boolean;
  /** Blacklist time after markFailed, seconds. Default 30. */
  blacklistSeconds?: number;
  blacklistMaxEntries?: number;
  /** For RFC 2782 weighted selection. Default Math.random. */
  random?: RandomSource;
  /** Clock (ms) for cache and blacklist. Default Date.now. */
  now?: () => number;
}

