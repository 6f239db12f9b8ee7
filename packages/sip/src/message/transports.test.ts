import { describe, expect, it } from 'vitest';
import { defaultPort, isReliableTransport, toTransportName } from './transports.js';

describe('transport vocabulary', () => {
  it('names the transports the stack implements, from any spelling', () => {
    expect(['UDP', 'tcp', 'Tls', 'SCTP', 'ws', 'WSS', 'DTLS', ''].map(toTransportName)).toEqual(['udp', 'tcp', 'tls', null, null, null, null, null]);
  });

  it('knows which transports are reliable (RFC 3261 §18, RFC 4168, RFC 7118)', () => {
    const reliable = ['TCP', 'tls', 'SCTP', 'TLS-SCTP', 'ws', 'WSS'];
    const unreliable = ['UDP', 'udp', 'DTLS', 'carrier-pigeon'];
    expect(reliable.filter(isReliableTransport)).toEqual(reliable);
    expect(unreliable.filter(isReliableTransport)).toEqual([]);
  });

  it('defaults the port to 5061 for TLS and 5060 otherwise, in any case (RFC 3261 §19.1.2)', () => {
    expect(['udp', 'TCP', 'tls', 'TLS', 'Tls', 'SCTP'].map(defaultPort)).toEqual([5060, 5060, 5061, 5061, 5061, 5060]);
  });
});
