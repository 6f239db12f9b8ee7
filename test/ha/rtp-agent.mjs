#!/usr/bin/env node
/**
 * One end of an RTP stream, run inside a lab namespace (`ip netns exec client node
 * rtp-agent.mjs --bind 10.77.0.100`): plain Node, no build step, so a namespace can run it.
 *
 * It binds a UDP port on --bind (0: any free one) and prints `{"port":N}`. Then, on stdin:
 *   {"to":"10.77.0.10","port":30002}  send one 20 ms PCMU packet there every --interval ms
 *   count                             print {"received":n,"last":ms} (packets so far)
 *   arrivals                          print {"arrivals":[ms…]} (every arrival so far; it goes on)
 *   stop                              stop, print the report, exit
 * Report (one JSON line): {"sent":n,"arrivals":[ms…],"sources":["addr:port",…]} with the
 * wall-clock arrival time (ms, sub-ms precision) of every RTP v2 packet received. It stops
 * by itself after --max-ms (a bound on every run) or when stdin ends.
 */
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    bind: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '0' },
    interval: { type: 'string', default: '20' },
    'max-ms': { type: 'string', default: '120000' },
  },
});
const intervalMs = Number(values.interval);
const maxMs = Number(values['max-ms']);
if (!(intervalMs >= 1 && intervalMs <= 1000) || !(maxMs >= 100 && maxMs <= 600_000)) {
  process.stderr.write('rtp-agent: --interval 1..1000, --max-ms 100..600000\n');
  process.exit(2);
}

const now = () => performance.timeOrigin + performance.now();
const ssrc = (Math.random() * 0xfffffffe + 1) >>> 0;
let seq = (Math.random() * 0xffff) | 0;
let ts = (Math.random() * 0xffffffff) >>> 0;
let sent = 0;
const arrivals = [];
const sources = new Set();
const sock = createSocket('udp4');
let timer;
let done = false;

sock.on('message', (b, rinfo) => {
  if (b.length < 12 || b[0] >> 6 !== 2) return;
  arrivals.push(Math.round(now() * 10) / 10);
  sources.add(`${rinfo.address}:${rinfo.port}`);
});
sock.on('error', (e) => {
  process.stderr.write(`rtp-agent: ${e.message}\n`);
  finish(1);
});

function packet() {
  const b = Buffer.alloc(12 + 160, 0xff); // 20 ms of PCMU silence
  b[0] = 0x80;
  b[1] = 0;
  b.writeUInt16BE(seq, 2);
  b.writeUInt32BE(ts, 4);
  b.writeUInt32BE(ssrc, 8);
  seq = (seq + 1) & 0xffff;
  ts = (ts + 160) >>> 0;
  return b;
}

function finish(code = 0) {
  if (done) return;
  done = true;
  clearInterval(timer);
  process.stdout.write(`${JSON.stringify({ sent, arrivals, sources: [...sources] })}\n`, () => {
    sock.close();
    process.exit(code);
  });
}

sock.bind(Number(values.port), values.bind, () => {
  process.stdout.write(`${JSON.stringify({ port: sock.address().port })}\n`);
});
setTimeout(() => finish(0), maxMs).unref();

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  const l = line.trim();
  if (l === 'stop') return finish(0);
  if (l === 'count') return void process.stdout.write(`${JSON.stringify({ received: arrivals.length, last: arrivals.at(-1) ?? null })}\n`);
  if (l === 'arrivals') return void process.stdout.write(`${JSON.stringify({ arrivals })}\n`);
  let cmd;
  try {
    cmd = JSON.parse(l);
  } catch {
    process.stderr.write(`rtp-agent: not a command: ${l.slice(0, 80)}\n`);
    return;
  }
  if (typeof cmd?.to !== 'string' || !Number.isInteger(cmd?.port) || cmd.port < 1 || cmd.port > 65535) {
    process.stderr.write(`rtp-agent: want {"to":"addr","port":n}\n`);
    return;
  }
  clearInterval(timer);
  timer = setInterval(() => {
    sock.send(packet(), cmd.port, cmd.to, (e) => {
      if (!e) sent++;
    });
  }, intervalMs);
});
rl.on('close', () => finish(0));
