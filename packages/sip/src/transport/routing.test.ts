import { describe, expect, it } from 'vitest';
import { parseVia } from '../message/via.js';
import { parseMessage } from '../parser/parse.js';
import type { SipRequest } from '../message/message.js';
import { flowKey, hostPort, normalizeAddress, responseDestination, sameAddress, stampVia } from './routing.js';
import type { TransportSource } from './types.js';
import { request } from './test-helpers.js';

const req = (via: string) => parseMessage(Buffer.from(request({ via }))) as SipRequest;
const udpSrc: TransportSource = { transport: 'udp', address: '192.0.2.7', port: 40000, localAddress: '198.51.100.1', localPort: 5060 };

describe('address helpers', () => {
  it('normalizes IPv6 (brackets, zero compression, case)', () => {
    expect(normalizeAddress('[2001:DB8:0:0::1]')).toBe('2001:db8::1');
    expect(normalizeAddress('192.0.2.1')).toBe('192.0.2.1');
    expect(normalizeAddress('Example.COM')).toBe('example.com');
    expect(sameAddress('[::1]', '0:0:0:0:0:0:0:1')).toBe(true);
    expect(hostPort('::1', 5060)).toBe('[::1]:5060');
    expect(flowKey('TCP', '[::1]', 5)).toBe('tcp:[::1]:5');
  });
});

describe('stampVia (RFC 3261 §18.2.1, RFC 3581 §4)', () => {
  it('fills an empty rport and adds received even when the host matches', () => {
    const m = req('SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-1;rport');
    expect(stampVia(m, udpSrc)).toBe(true);
    expect(m.get('via')).toBe('SIP/2.0/UDP 192.0.2.7:5060;branch=z9hG4bK-1;rport=40000;received=192.0.2.7');
  });
  it('adds received when the sent-by host differs (name or other IP)', () => {
    const m = req('SIP/2.0/UDP pc33.example.com;branch=z9hG4bK-2');
    stampVia(m, udpSrc);
    expect(m.get('via')).toBe('SIP/2.0/UDP pc33.example.com;branch=z9hG4bK-2;received=192.0.2.7');
  });
  it('changes nothing when sent-by is the source address', () => {
    const m = req('SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK-3');
    expect(stampVia(m, udpSrc)).toBe(false);
    expect(m.toString()).toBe(request({ via: 'SIP/2.0/UDP 192.0.2.7:5070;branch=z9hG4bK-3' }).replace(/Call-ID: [^\r]*/, `Call-ID: ${m.callId()}`));
  });
  it('overwrites a forged received', () => {
    const m = req('SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-4;received=203.0.113.9');
    stampVia(m, udpSrc);
    expect(m.topVia()!.received).toBe('192.0.2.7');
  });
  it('writes IPv6 received without brackets, compares bracketed hosts', () => {
    const m = req('SIP/2.0/UDP [2001:db8::9]:5060;branch=z9hG4bK-5;rport');
    stampVia(m, { ...udpSrc, address: '2001:db8::1' });
    expect(m.topVia()!.received).toBe('2001:db8::1');
    const same = req('SIP/2.0/UDP [2001:DB8::1];branch=z9hG4bK-6');
    expect(stampVia(same, { ...udpSrc, address: '2001:db8::1' })).toBe(false);
  });
});

describe('responseDestination (RFC 3261 §18.2.2, RFC 3581 §4)', () => {
  it('unreliable: received + rport, from the receiving socket', () => {
    expect(responseDestination(parseVia('SIP/2.0/UDP h.example;branch=z9hG4bK-a;received=192.0.2.7;rport=40000'), udpSrc)).toEqual({
      transport: 'udp', address: '192.0.2.7', port: 40000, localAddress: '198.51.100.1', localPort: 5060,
    });
  });
  it('unreliable without rport: received and the sent-by port (default 5060)', () => {
    expect(responseDestination(parseVia('SIP/2.0/UDP h.example:5070;branch=z9hG4bK-b;received=192.0.2.7'))).toEqual({ transport: 'udp', address: '192.0.2.7', port: 5070 });
    expect(responseDestination(parseVia('SIP/2.0/UDP 192.0.2.8;branch=z9hG4bK-c'))).toEqual({ transport: 'udp', address: '192.0.2.8', port: 5060 });
  });
  it('an empty rport uses the source port', () => {
    expect(responseDestination(parseVia('SIP/2.0/UDP 192.0.2.7;branch=z9hG4bK-d;rport'), udpSrc)?.port).toBe(40000);
  });
  it('maddr wins for unreliable transports (unless disabled)', () => {
    const via = parseVia('SIP/2.0/UDP h.example:5080;branch=z9hG4bK-e;maddr=239.1.1.1;received=192.0.2.7;rport=4');
    expect(responseDestination(via)).toMatchObject({ address: '239.1.1.1', port: 5080 });
    expect(responseDestination(via, undefined, { honorMaddr: false })).toMatchObject({ address: '192.0.2.7', port: 4 });
  });
  it('reliable: the request connection, falling back to received and the sent-by port', () => {
    const src: TransportSource = { transport: 'tls', address: '192.0.2.7', port: 40001, localAddress: '198.51.100.1', localPort: 5061, connectionId: 'tls-9' };
    expect(responseDestination(parseVia('SIP/2.0/TLS h.example;branch=z9hG4bK-f;rport=40001;received=192.0.2.7'), src)).toEqual({
      transport: 'tls', address: '192.0.2.7', port: 5061, connectionId: 'tls-9',
    });
  });
  it('unknown transports are not routable', () => {
    expect(responseDestination(parseVia('SIP/2.0/SCTP 192.0.2.7;branch=z9hG4bK-g'))).toBeNull();
  });
});
