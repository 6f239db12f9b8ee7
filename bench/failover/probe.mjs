#!/usr/bin/env node
// The failover probe: from the client namespace, one OPTIONS to the shared IP every
// --interval ms (a fresh branch each), for at most --max-s seconds. Prints one line per
// answer: `<epoch ms the answer arrived> <Server header>`; stops at SIGTERM.
//
//   node probe.mjs --ip 10.77.0.10 --port 5060 --interval 20 --max-s 120
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const ip = opt('ip', '10.77.0.10');
const port = Number(opt('port', '5060'));
const interval = Number(opt('interval', '20'));
const maxS = Number(opt('max-s', '120'));
if (!(interval >= 5 && maxS > 0 && maxS <= 3600)) throw new Error('--interval ≥ 5 ms, --max-s in (0, 3600]');

const sock = createSocket('udp4');
const callId = randomBytes(8).toString('hex');
let seq = 0;
sock.on('message', (buf) => {
  const now = Date.now();
  const m = /\r\nServer: ([^\r\n]+)/i.exec(buf.toString('latin1'));
  process.stdout.write(`${now} ${m ? m[1] : '?'}\n`);
});
sock.bind(0, () => {
  const { address, port: lport } = sock.address();
  const send = () => {
    seq++;
    const msg = `OPTIONS sip:${ip}:${port} SIP/2.0\r\nVia: SIP/2.0/UDP ${address === '0.0.0.0' ? '10.77.0.100' : address}:${lport};branch=z9hG4bK${callId}${seq}\r\n` +
      `Max-Forwards: 70\r\nFrom: <sip:probe@10.77.0.100>;tag=${callId}\r\nTo: <sip:${ip}>\r\nCall-ID: ${callId}\r\nCSeq: ${seq} OPTIONS\r\nContent-Length: 0\r\n\r\n`;
    sock.send(msg, port, ip);
  };
  const t = setInterval(send, interval);
  const end = () => { clearInterval(t); sock.close(); process.exit(0); };
  setTimeout(end, maxS * 1000);
  process.on('SIGTERM', end);
});
