#!/usr/bin/env node
// A minimal SIP answerer for the failover benchmark: bound to the shared IP (the node runs
// with ip_nonlocal_bind=1, so it binds before the address is present), it answers every
// OPTIONS with 200 OK naming the node in `Server:`. The same responder stands on both nodes
// and under both HA daemons (keepalived, ours): the benchmark measures only the failover.
//
//   node responder.mjs --ip 10.77.0.10 --port 5060 --node fob-a
import { createSocket } from 'node:dgram';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const ip = opt('ip', '10.77.0.10');
const port = Number(opt('port', '5060'));
const node = opt('node', 'node');

const sock = createSocket({ type: 'udp4', reuseAddr: false });
sock.on('message', (buf, rinfo) => {
  const text = buf.toString('latin1');
  if (!text.startsWith('OPTIONS ')) return;
  const keep = text.split('\r\n').filter((l) => /^(via|from|to|call-id|cseq):/i.test(l));
  const res = `SIP/2.0 200 OK\r\n${keep.join('\r\n')}\r\nServer: ${node}\r\nContent-Length: 0\r\n\r\n`;
  sock.send(res, rinfo.port, rinfo.address);
});
sock.on('error', (e) => { console.error(`responder ${node}: ${e.message}`); process.exit(1); });
sock.bind(port, ip, () => console.error(`responder ${node} on ${ip}:${port}`));
process.on('SIGTERM', () => process.exit(0));
