/**
 * @ngcp/sip/testing — test doubles for code built on the stack. Not for production:
 * a manual clock, a transport that records what is sent, sample RFC 3665-style
 * messages, a logger that drops everything, and a scriptable DNS server on
 * 127.0.0.1 for RFC 3263 tests.
 *
 *   import { FakeClock, RecordingTransport, sampleRequest } from '@ngcp/sip/testing';
 */
export { FakeClock, RecordingTransport, parseText, sampleRequest, sampleResponse, summarize } from './transaction/testing.js';
export type { SampleRequestOptions, SentMessage } from './transaction/testing.js';
export { silentLogger } from './logger.js';
export { TestDnsServer, seededRandom } from './dns/test-dns-server.js';
export type { Behaviour, SeenQuery, TestDnsServerOptions, ZoneRecord } from './dns/test-dns-server.js';
