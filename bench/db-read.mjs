#!/usr/bin/env node
// The API's hot read, three ways, against a private MariaDB with the real schema:
//
//   knex, subqueries   the first GET /api/subscribers/:id: knex query, numbers by two
//                      correlated subqueries (GROUP_CONCAT … ORDER BY)
//   mysql2, prepared   one prepared statement (row LEFT JOIN numbers) on a connection of
//                      the knex pool (mysql2's execute)
//   mariadb, prepared  the same statement on the MariaDB connector's pool
//                      (@ngcp/db createReader — what the API uses now)
//
// Same process, same pool size (16), same concurrency, ids at random; rounds alternate
// between the three, medians reported. Per query: Node CPU (this process) and MariaDB
// CPU (/proc of mariadbd).
//
// Run: node bench/db-read.mjs [--subscribers 20000] [--queries 20000] [--rounds 3] [--json out.json]
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const { startMariaDb } = await import(join(here, '../packages/testkit/dist/index.js'));
const dbm = await import(join(here, '../packages/db/dist/index.js'));

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1] : def;
};
const SUBSCRIBERS = Number(opt('subscribers', 20_000));
const QUERIES = Number(opt('queries', 20_000));
const ROUNDS = Number(opt('rounds', 3));
const CONC = 16;
const jsonOut = opt('json', null);

const procCpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const x = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(x[11]) + Number(x[12])) / 100;
};
const ownCpu = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

const server = await startMariaDb({ bufferPoolSize: '256M' });
const cfg = { ...server.connectionConfig(), socket: server.socket };
const db = dbm.createDb({ ...cfg, pool: { max: CONC } });
const reader = dbm.createReader({ ...cfg, readers: CONC });
try {
  await dbm.migrate.latest(db);
  const [domainId] = await db('domains').insert({ domain: 'bench.example' });
  for (let i = 0; i < SUBSCRIBERS; i += 1000) {
    const rows = [];
    for (let k = i; k < Math.min(SUBSCRIBERS, i + 1000); k++) {
      rows.push({ uuid: crypto.randomUUID(), domain_id: domainId, username: `u${k}`, ha1_md5: '0'.repeat(32), ha1_sha256: '0'.repeat(64) });
    }
    await db('subscribers').insert(rows);
  }
  const ids = (await db('subscribers').select('id')).map((r) => r.id);
  const numbers = ids.flatMap((id, k) => [{ e164: String(4900000000 + k), subscriber_id: id, is_primary: true }, ...(k % 4 === 0 ? [{ e164: String(4800000000 + k), subscriber_id: id, is_primary: false }] : [])]);
  for (let i = 0; i < numbers.length; i += 2000) await db('numbers').insert(numbers.slice(i, i + 2000));

  const SUBQ = db('subscribers as s').join('domains as d', 'd.id', 's.domain_id').select(
    's.id', 's.uuid', 's.domain_id', 'd.domain', 's.username', 's.customer_id', 's.display_name', 's.external_id', 's.status', 's.created_at', 's.updated_at',
    db.raw('(SELECT n.e164 FROM numbers n WHERE n.subscriber_id = s.id AND n.is_primary = 1) AS primary_number'),
    db.raw("(SELECT GROUP_CONCAT(n.e164 ORDER BY n.e164 SEPARATOR ',') FROM numbers n WHERE n.subscriber_id = s.id AND n.is_primary = 0) AS alias_numbers"),
  );
  const JOIN =
    'SELECT s.id, s.uuid, s.domain_id, d.domain, s.username, s.customer_id, s.display_name, s.external_id, s.status, s.created_at, s.updated_at, n.e164, n.is_primary ' +
    'FROM subscribers s JOIN domains d ON d.id = s.domain_id LEFT JOIN numbers n ON n.subscriber_id = s.id WHERE s.id = ?';
  const rnd = () => ids[Math.floor(Math.random() * ids.length)];
  const mysql2Execute = async (sql, values) => {
    const conn = await db.client.acquireConnection();
    try {
      return await new Promise((resolve, reject) => conn.execute({ sql, dateStrings: true }, values, (err, rows) => (err ? reject(err) : resolve(rows))));
    } finally {
      await db.client.releaseConnection(conn);
    }
  };
  const variants = {
    'knex, subqueries': (id) => SUBQ.clone().where('s.id', id).first(),
    'mysql2, prepared': (id) => mysql2Execute(JOIN, [id]),
    'mariadb, prepared': (id) => reader.execute(JOIN, [id]),
  };
  const runs = Object.fromEntries(Object.keys(variants).map((k) => [k, []]));
  for (const [name, q] of Object.entries(variants)) for (let i = 0; i < 2000; i++) await q(rnd()); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, q] of Object.entries(variants)) {
      let left = QUERIES;
      const c0 = ownCpu();
      const d0 = procCpu(server.pid);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CONC }, async () => {
        while (left-- > 0) await q(rnd());
      }));
      const s = (performance.now() - t0) / 1000;
      runs[name].push({ per_second: QUERIES / s, node_us: ((ownCpu() - c0) / QUERIES) * 1e6, mariadb_us: ((procCpu(server.pid) - d0) / QUERIES) * 1e6 });
    }
  }
  const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const out = {};
  console.log(`${SUBSCRIBERS} subscribers, ${QUERIES} queries a round, ${ROUNDS} rounds, ${CONC} concurrent — medians`);
  for (const [name, rs] of Object.entries(runs)) {
    out[name] = { per_second: Math.round(median(rs.map((x) => x.per_second))), node_us: +median(rs.map((x) => x.node_us)).toFixed(1), mariadb_us: +median(rs.map((x) => x.mariadb_us)).toFixed(1) };
    console.log(`${name.padEnd(20)} ${String(out[name].per_second).padStart(6)}/s   node ${String(out[name].node_us).padStart(6)} µs/query   mariadb ${String(out[name].mariadb_us).padStart(6)} µs/query`);
  }
  if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ date: new Date().toISOString(), subscribers: SUBSCRIBERS, queries: QUERIES, rounds: ROUNDS, concurrency: CONC, results: out }, null, 2));
} finally {
  await reader.close();
  await db.destroy();
  await server.stop();
}
