/**
 * RFC 3263 SIP server location: DNS stub client, TTL cache, resolver and
 * failover iterator. See README.md in this folder.
 */
export { DnsError, isDnsError } from './dns-error.js';
export type { DnsErrorCode } from './dns-error.js';
export { DnsClient } from './dns-client.js';
export type { DnsClientOptions, DnsQuerier, DnsResult, DnsStatus } from './dns-client.js';
export type { DnsQueryType, DnsRecord, ARecord, AaaaRecord, SrvRecord, NaptrRecord, CnameRecord, RecordOf } from './records.js';
export { DnsCache } from './cache.js';
export type { DnsCacheOptions, CachedAnswer } from './cache.js';
export { parseResolvConf, loadResolvConf, parseServer } from './resolv-conf.js';
export type { DnsServer, ResolvConf } from './resolv-conf.js';
export { orderSrv, srvDeclined, selectNaptr, srvName } from './selection.js';
export type { RandomSource, NaptrRule } from './selection.js';
export { Blacklist, destinationKey } from './blacklist.js';
export type { FailureReason, BlacklistEntry, BlacklistOptions } from './blacklist.js';
export { SipResolver } from './resolver.js';
export type { ResolveInput, Target, TargetSource, SipResolverOptions } from './types.js';
export { TargetIterator } from './target-iterator.js';
