#!/usr/bin/env node
// One call on an rtpengine over the ng protocol (bencode over UDP), for the failover
// benchmark's media side: `offer` with the caller's SDP, `answer` with the callee's; prints
// {"toCaller":port,"toCallee":port} — the ports rtpengine put in the SDP each side gets.
//
//   node ng-call.mjs --ng 127.0.0.1:2223 --call-id X --caller 10.77.0.100:40000 --callee 10.77.0.100:40002
import { createSocket } from 'node:dgram';
import { randomBytes } from 'node:crypto';

const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(`--${n}`); return i >= 0 ? args[i + 1] : d; };
const [ngHost, ngPort] = opt('ng', '127.0.0.1:2223').split(':');
const callId = opt('call-id', randomBytes(6).toString('hex'));
const hostPort = (s) => { const [h, p] = s.split(':'); return { h, p: Number(p) }; };
const caller = hostPort(opt('caller', '10.77.0.100:40000'));
const callee = hostPort(opt('callee', '10.77.0.100:40002'));

const enc = (v) => {
  if (typeof v === 'number') return `i${v}e`;
  if (typeof v === 'string') return `${Buffer.byteLength(v)}:${v}`;
  if (Array.isArray(v)) return `l${v.map(enc).join('')}e`;
  return `d${Object.keys(v).sort().map((k) => enc(k) + enc(v[k])).join('')}e`;
};
function dec(b, i = 0) {
  const c = String.fromCharCode(b[i]);
  if (c === 'i') { const e = b.indexOf(0x65, i); return [Number(b.subarray(i + 1, e).toString()), e + 1]; }
  if (c === 'l' || c === 'd') {
    const out = c === 'l' ? [] : {};
    i++;
    while (b[i] !== 0x65) {
      if (c === 'l') { const [v, n] = dec(b, i); out.push(v); i = n; } else { const [k, n] = dec(b, i); const [v, m] = dec(b, n); out[k] = v; i = m; }
    }
    return [out, i + 1];
  }
  const colon = b.indexOf(0x3a, i);
  const len = Number(b.subarray(i, colon).toString());
  return [b.subarray(colon + 1, colon + 1 + len).toString(), colon + 1 + len];
}

const sock = createSocket('udp4');
function ng(msg) {
  const cookie = randomBytes(4).toString('hex');
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`ng ${msg.command}: no answer in 2 s`)), 2000);
    const on = (b) => {
      const sp = b.indexOf(0x20);
      if (b.subarray(0, sp).toString() !== cookie) return;
      clearTimeout(t);
      sock.off('message', on);
      const [r] = dec(b, sp + 1);
      if (r.result !== 'ok') reject(new Error(`ng ${msg.command}: ${r['error-reason'] ?? r.result}`));
      else resolve(r);
    };
    sock.on('message', on);
    sock.send(`${cookie} ${enc(msg)}`, Number(ngPort), ngHost);
  });
}
const sdp = (h, p) => `v=0\r\no=- 1 1 IN IP4 ${h}\r\ns=-\r\nc=IN IP4 ${h}\r\nt=0 0\r\nm=audio ${p} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n`;
const port = (s) => Number(/m=audio (\d+)/.exec(s)[1]);
try {
  const o = await ng({ command: 'offer', 'call-id': callId, 'from-tag': 'caller', sdp: sdp(caller.h, caller.p) });
  const a = await ng({ command: 'answer', 'call-id': callId, 'from-tag': 'caller', 'to-tag': 'callee', sdp: sdp(callee.h, callee.p) });
  console.log(JSON.stringify({ toCallee: port(o.sdp), toCaller: port(a.sdp) }));
  process.exit(0);
} catch (e) {
  console.error(e.message);
  process.exit(1);
}
