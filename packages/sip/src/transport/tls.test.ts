import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createResponse } from '../message/builders.js';
import type { SipRequest } from '../message/message.js';
import { parseMessage } from '../parser/parse.js';
import { responseDestination } from './routing.js';
import { cleanup, makeLayer, request, statusOf, waitUntil, withTimeout, wrapStream } from './test-helpers.js';

let dir: string;
let keyPath: string;
let certPath: string;
let certPem: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sip-tls-'));
  keyPath = join(dir, 'key.pem');
  certPath = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', keyPath, '-out', certPath], { stdio: 'ignore' });
  certPem = readFileSync(certPath, 'utf8');
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(cleanup);

const tlsVia = (n: string) => `SIP/2.0/TLS client.invalid:5071;branch=z9hG4bK-${n};rport`;

async function tlsServer(opts: Parameters<typeof makeLayer>[0] = {}, requestCert = false) {
  const l = makeLayer(opts);
  // key and cert as file paths; the CA (for client certificates) as PEM text
  const [bound] = await l.layer.listen([{ transport: 'tls', address: '127.0.0.1', port: 0, tls: { key: keyPath, cert: certPath, ca: certPem, requestCert, rejectUnauthorized: requestCert } }]);
  return { ...l, port: bound!.port };
}

describe('TLS transport', () => {
  it('request and response between two layers, SNI servername verified', async () => {
    const server = await tlsServer();
    const client = makeLayer({ tls: { ca: certPem } });
    const dest = { transport: 'tls' as const, address: '127.0.0.1', port: server.port, servername: 'localhost' };
    await client.layer.send(parseMessage(Buffer.from(request({ via: tlsVia('t1'), callId: 'tls-1' }))), dest);
    const { msg, source } = await server.next();
    expect(msg.callId()).toBe('tls-1');
    expect(source).toMatchObject({ transport: 'tls', address: '127.0.0.1', tlsAuthorized: false });
    expect(msg.topVia()!.received).toBe('127.0.0.1');
    await server.layer.send(createResponse(msg as SipRequest, 200), responseDestination(msg.topVia()!, source)!);
    const r = await client.next();
    expect(r.msg.kind === 'response' && r.msg.status).toBe(200);
    expect(r.source.transport).toBe('tls');
    // a second request reuses the pooled TLS connection
    await client.layer.send(parseMessage(Buffer.from(request({ via: tlsVia('t2'), callId: 'tls-2' }))), dest);
    expect((await server.next()).msg.callId()).toBe('tls-2');
    expect(client.layer.stats().connections).toMatchObject({ opened: 1, outbound: 1 });
    expect(server.layer.stats().connections).toMatchObject({ opened: 1, inbound: 1 });
  });

  it('rejects a server whose certificate does not verify', async () => {
    const server = await tlsServer();
    const client = makeLayer(); // Node's default CAs do not know our self-signed cert
    const req = parseMessage(Buffer.from(request({ via: tlsVia('t3') })));
    await expect(client.layer.send(req, { transport: 'tls', address: '127.0.0.1', port: server.port, servername: 'localhost' })).rejects.toMatchObject({ code: 'connect-failed' });
    // wrong name
    const c2 = makeLayer({ tls: { ca: certPem } });
    await expect(c2.layer.send(req, { transport: 'tls', address: '127.0.0.1', port: server.port, servername: 'other.example' })).rejects.toMatchObject({ code: 'connect-failed' });
    await waitUntil(() => server.layer.stats().connections.failed >= 1);
  });

  it('mutual TLS: the client certificate is verified and exposed in the source', async () => {
    const server = await tlsServer({}, true);
    const client = makeLayer({ tls: { ca: certPem, key: readFileSync(keyPath, 'utf8'), cert: certPem } });
    await client.layer.send(parseMessage(Buffer.from(request({ via: tlsVia('m1') }))), { transport: 'tls', address: '127.0.0.1', port: server.port, servername: 'localhost' });
    const { source } = await server.next();
    expect(source.tlsAuthorized).toBe(true);
    expect(source.peerCertificate?.subject.CN).toBe('localhost');
  });

  it('answers a malformed request with 400 over TLS and keeps the connection', async () => {
    const server = await tlsServer();
    const sock = tlsConnect({ host: '127.0.0.1', port: server.port, ca: certPem, servername: 'localhost' });
    await withTimeout(new Promise((res) => sock.once('secureConnect', res)), 2000, 'tls connect');
    const peer = wrapStream(sock);
    await peer.write(request({ via: tlsVia('bad'), extra: ['CSeq: 9 OPTIONS'] }));
    await peer.waitFor((d) => d.includes('\r\n\r\n'));
    expect(statusOf(peer.data)).toBe(400);
    await peer.write('\r\n\r\n');
    await waitUntil(() => server.layer.stats().keepalives.pongsSent === 1);
    await peer.waitFor((d) => d.endsWith('\r\n\r\n\r\n')); // the 400's empty line, then the pong
    expect(peer.closed).toBe(false);
  });

  it('a TLS connect to a silent peer fails with connect-timeout', async () => {
    const silent = createServer(() => undefined); // accepts TCP, never speaks TLS
    const port = await new Promise<number>((res) => silent.listen(0, '127.0.0.1', () => res((silent.address() as { port: number }).port)));
    const sockets = new Set<import('node:net').Socket>();
    silent.on('connection', (s) => sockets.add(s));
    try {
      const client = makeLayer({ tls: { ca: certPem }, connectTimeout: 200 });
      const req = parseMessage(Buffer.from(request({ via: tlsVia('slow') })));
      await expect(client.layer.send(req, { transport: 'tls', address: '127.0.0.1', port, servername: 'localhost' })).rejects.toMatchObject({ code: 'connect-timeout' });
      expect(client.layer.stats().connections.failed).toBe(1);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((res) => silent.close(res));
    }
  });
});
