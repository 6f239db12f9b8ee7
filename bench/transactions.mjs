// Transaction layer benchmark: create-match-complete cycles with many live
// transactions, and heap per live transaction. See
// packages/sip/src/transaction/BENCH-NOTES.md.
//
//   pnpm --filter @ngcp/sip build
//   node --expose-gc bench/transactions.mjs [--live 100000] [--kind nist|ist|ist-2xx|nict|ict]
//        [--scheduler queued|node] [--json FILE]
//
// Without --kind every kind runs, one after another. Prints a table and the JSON
// (also written to FILE with --json). No sockets: the transport is a no-op that claims
// UDP, so completed transactions stay alive (Timer J / H / L / K / M) while we measure.
import { writeFileSync } from 'node:fs';

const sip = await loadSip();
const { TransactionLayer, createResponse, parseMessage, nodeScheduler, QueuedScheduler } = sip;

const args = Object.fromEntries(process.argv.slice(2).reduce((acc, a, i, all) => (a.startsWith('--') ? [...acc, [a.slice(2), all[i + 1]]] : acc), []));
const LIVE = Number(args.live ?? 100_000);
const KINDS = args.kind ? [args.kind] : ['nist', 'ist', 'ist-2xx', 'nict', 'ict'];
/** 'queued' (the layer's default) or 'node' (a Node Timeout per timer). */
const SCHEDULER = args.scheduler ?? 'queued';
const scheduler = () => (SCHEDULER === 'node' ? nodeScheduler : new QueuedScheduler());
const gc = globalThis.gc;
if (typeof gc !== 'function') console.error('warning: run with node --expose-gc for memory numbers');

async function loadSip() {
  const root = await import('../packages/sip/dist/index.js').catch(() => ({}));
  if (typeof root.TransactionLayer === 'function') return root;
  // until src/index.ts re-exports the transaction layer
  const [tx, msg, parser] = await Promise.all([
    import('../packages/sip/dist/transaction/index.js'),
    import('../packages/sip/dist/message/index.js'),
    import('../packages/sip/dist/parser/parse.js'),
  ]);
  return { ...msg, ...parser, ...tx };
}

const SRC = { transport: 'UDP', address: '198.51.100.7', port: 5060 };
const DEST = { transport: 'UDP', address: '192.0.2.10', port: 5060 };
let sends = 0;
const transport = { send() { sends++; }, isReliable: (t) => t.toUpperCase() !== 'UDP' };

function requestText(method, i, cseqMethod = method, toTag = '') {
  return (
    `${method} sip:user${i}@biloxi.example.com SIP/2.0\r\n` +
    `Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bK${i.toString(16).padStart(10, '0')};rport\r\n` +
    'Max-Forwards: 70\r\n' +
    `To: <sip:user${i}@biloxi.example.com>${toTag}\r\n` +
    `From: <sip:alice@atlanta.example.com>;tag=f${i}\r\n` +
    `Call-ID: c${i}@atlanta.example.com\r\n` +
    `CSeq: 1 ${cseqMethod}\r\n` +
    'Contact: <sip:alice@198.51.100.7:5060>\r\n' +
    'Expires: 3600\r\n' +
    'Content-Length: 0\r\n\r\n'
  );
}
const parse = (text) => parseMessage(Buffer.from(text, 'latin1'));
const heap = () => {
  if (gc) for (let i = 0; i < 4; i++) gc();
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers };
};

/** Server kinds: the TU answers inside onRequest. */
function serverLayer(status) {
  return new TransactionLayer({
    transport,
    scheduler: scheduler(),
    user: { onRequest: (tx, req) => tx.respond(createResponse(req, status, { toTag: 'uas1' })) },
  });
}

function run(KIND) {
  const server = KIND === 'nist' || KIND === 'ist' || KIND === 'ist-2xx';
  const method = KIND === 'nist' || KIND === 'nict' ? 'REGISTER' : 'INVITE';
  const status = KIND === 'ist' ? 486 : 200;
  const layer = server ? serverLayer(status) : new TransactionLayer({ transport, scheduler: scheduler(), user: { onRequest() {} } });

  // 1. fill: LIVE create → (match) → complete cycles, message parsing included
  const before = heap();
  let t0 = process.hrtime.bigint();
  for (let i = 0; i < LIVE; i++) {
    if (server) {
      layer.receive(parse(requestText(method, i)), SRC);
    } else {
      const req = parse(requestText(method, i));
      layer.sendRequest(req, DEST);
      layer.receive(parse(createResponse(req, status, { toTag: 'uas1' }).toString()), DEST);
    }
  }
  const fillNs = Number(process.hrtime.bigint() - t0);
  const after = heap();
  const live = layer.size;

  // 2. match: retransmissions of up to 50k live transactions (requests for servers, responses for clients)
  const retx = [];
  const sample = Math.min(LIVE, 50_000);
  for (let i = 0; i < sample; i++) {
    retx.push(server ? parse(requestText(method, i)) : parse(createResponse(parse(requestText(method, i)), status, { toTag: 'uas1' }).toString()));
  }
  const sendsBefore = sends;
  t0 = process.hrtime.bigint();
  for (const m of retx) layer.receive(m, SRC);
  const matchNs = Number(process.hrtime.bigint() - t0);
  const resent = sends - sendsBefore;
  retx.length = 0;

  // 3. cycles with pre-parsed messages (transaction layer cost only), on top of the live set
  const pre = [];
  const preResponses = [];
  for (let i = LIVE; i < LIVE + sample; i++) {
    const req = parse(requestText(method, i));
    pre.push(req);
    if (!server) preResponses.push(parse(createResponse(req, status, { toTag: 'uas1' }).toString()));
  }
  t0 = process.hrtime.bigint();
  for (let i = 0; i < pre.length; i++) {
    if (server) layer.receive(pre[i], SRC);
    else {
      layer.sendRequest(pre[i], DEST);
      layer.receive(preResponses[i], DEST);
    }
  }
  const preNs = Number(process.hrtime.bigint() - t0);

  const stats = layer.stats();
  layer.close();
  return {
    kind: KIND,
    scheduler: SCHEDULER,
    live,
    state: KIND === 'ist' ? 'Completed (G+H timers)' : KIND === 'ist-2xx' ? 'Accepted (L)' : KIND === 'nist' ? 'Completed (J)' : KIND === 'ict' ? 'Accepted (M)' : 'Completed (K)',
    fill: { cycles: LIVE, seconds: fillNs / 1e9, cyclesPerSecond: Math.round(LIVE / (fillNs / 1e9)), includes: server ? 'parse request + create + respond' : 'parse request + send + parse response + match' },
    retransmissionMatch: { messages: sample, perSecond: Math.round(sample / (matchNs / 1e9)), resent },
    preParsedCycles: { cycles: sample, perSecond: Math.round(sample / (preNs / 1e9)), liveDuring: LIVE },
    memory: gc
      ? {
          heapBytesPerLive: Math.round((after.heapUsed - before.heapUsed) / live),
          arrayBufferBytesPerLive: Math.round((after.arrayBuffers - before.arrayBuffers) / live),
        }
      : null,
    stats: { created: stats.created, retransmissions: stats.retransmissions },
  };
}

const results = KINDS.map(run);
console.table(results.map((r) => ({
  kind: r.kind,
  'state while live': r.state,
  live: r.live,
  'heap B/live': r.memory?.heapBytesPerLive,
  'fill cycles/s': r.fill.cyclesPerSecond,
  'retransmission match/s': r.retransmissionMatch.perSecond,
  'pre-parsed cycles/s': r.preParsedCycles.perSecond,
})));
const out = { date: new Date().toISOString(), node: process.version, live: LIVE, scheduler: SCHEDULER, results };
console.log(JSON.stringify(out, null, 2));
if (args.json) writeFileSync(args.json, JSON.stringify(out, null, 2));
