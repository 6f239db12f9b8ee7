#!/usr/bin/env node
// Summarise a V8 .cpuprofile (node --cpu-prof; bench/sip.mjs --profile writes them):
// busy vs idle time of the main thread, and the busy samples attributed to the innermost
// frame on the stack that belongs to a known library or layer (MariaDB client, ioredis,
// node:dgram, @ngcp/sip parser/transactions/transport, the app itself), GC apart.
//   node bench/cpuprofile-summary.mjs FILE.cpuprofile
import { readFileSync } from 'node:fs';
const p = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const cat = (url, fn) => {
  if (/knex|mysql2|tarn|mariadb@|sql-escaper/.test(url)) return 'MariaDB client (knex/mysql2: accounting, directory)';
  if (/ioredis|redis-parser|denque/.test(url)) return 'Redis client (ioredis)';
  if (/pino|sonic-boom/.test(url)) return 'logging (pino)';
  if (/prom-client/.test(url)) return 'metrics';
  if (/packages\/sip\/dist\/parser|message\//.test(url)) return 'SIP parse/serialize (@ngcp/sip message, parser)';
  if (/packages\/sip\/dist\/transaction/.test(url)) return 'SIP transactions';
  if (/packages\/sip\/dist\/(transport|sanity)/.test(url)) return 'SIP transport + edge checks';
  if (/packages\/sip/.test(url)) return 'SIP other';
  if (/apps\/(proxy|lb)\/dist/.test(url)) return 'app logic (' + url.match(/apps\/\w+\/dist\/(.*)$/)[1] + ')';
  if (/node:dgram/.test(url)) return 'UDP send/recv (node:dgram)';
  return null;
};
const counts = new Map(); let busy = 0, idle = 0, gc = 0;
const dt = p.timeDeltas;
for (let i = 0; i < p.samples.length; i++) {
  const d = dt[i] ?? 0; let id = p.samples[i]; const n0 = byId.get(id).callFrame.functionName;
  if (n0 === '(idle)') { idle += d; continue; }
  busy += d;
  if (n0 === '(garbage collector)') { counts.set('GC', (counts.get('GC') ?? 0) + d); continue; }
  let k = null;
  while (id !== undefined && !k) { const cf = byId.get(id).callFrame; k = cat(cf.url, cf.functionName); id = parent.get(id); }
  k ??= 'other (node internals, startup, timers)';
  counts.set(k, (counts.get(k) ?? 0) + d);
}
console.log(`busy ${(busy/1e6).toFixed(1)} s, idle ${(idle/1e6).toFixed(1)} s`);
for (const [k, t] of [...counts].sort((a, b) => b[1] - a[1])) console.log(`${(100*t/busy).toFixed(1).padStart(5)}% of busy  ${k}`);
