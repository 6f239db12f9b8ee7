/**
 * The accounting writer against a real MariaDB: records written together share one
 * multi-row INSERT (counted by the server's Com_insert), nothing is lost at close, and a
 * refused batch is retried until MariaDB takes it; the same record from two writers (both
 * nodes of the pair) is one row.
 */
import { useMariaDb } from '@ngcp/testkit/vitest';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Db, type NewAcc } from '@ngcp/db';
import { AccountingWriter } from '../src/store/accounting.js';

const mariadb = useMariaDb();
let db: Db;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  const m = mariadb();
  db = createDb({ host: m.host, port: m.port, user: m.user, password: m.password, database: m.database, pool: { max: 5 } });
  await migrate.latest(db);
}, 120_000);
afterAll(async () => {
  await db?.destroy();
});

async function comInsert(): Promise<number> {
  const [rows] = (await db.raw("SHOW GLOBAL STATUS LIKE 'Com_insert'")) as [Array<{ Value: string }>];
  return Number(rows[0]!.Value);
}

const rec = (callid: string): NewAcc => ({ method: 'INVITE', callid, sip_code: '200', time: new Date(), from_tag: 'f', to_tag: 't', sip_reason: 'OK' });
const rows = async (prefix: string): Promise<number> =>
  Number(((await db('acc').where('callid', 'like', `${prefix}%`).count({ n: '*' }))[0] as { n: number }).n);

describe('AccountingWriter', () => {
  it('writes a burst of records in a few multi-row INSERTs, every record once', async () => {
    const w = new AccountingWriter(db, logger, { batchMs: 10, maxBatch: 200 });
    const before = await comInsert();
    for (let i = 0; i < 300; i++) w.write(rec(`burst-${i}`));
    await w.close();
    const statements = (await comInsert()) - before;
    expect(await rows('burst-')).toBe(300);
    expect(w.stats).toMatchObject({ written: 300, failed: 0, dropped: 0 });
    // 300 records, at most 200 per INSERT: 2 statements (one per record would be 300)
    expect(statements).toBeGreaterThanOrEqual(2);
    expect(statements).toBeLessThanOrEqual(4);
  });

  it('both nodes writing the same start and stop (a takeover) leave one row each; the repeats are counted as duplicates', async () => {
    const nodeA = new AccountingWriter(db, logger, { batchMs: 5 });
    const nodeB = new AccountingWriter(db, logger, { batchMs: 5 });
    const stop = (callid: string): NewAcc => ({ ...rec(callid), method: 'BYE' });
    for (const w of [nodeA, nodeB]) {
      w.write(rec('both-1'));
      w.write(stop('both-1'));
      w.write(stop('both-1')); // a retransmitted BYE answer, in the same batch
    }
    await Promise.all([nodeA.close(), nodeB.close()]);
    const got = await db('acc').where('callid', 'both-1').orderBy('id').select('method', 'kind');
    expect(got).toEqual([{ method: 'INVITE', kind: 'start' }, { method: 'BYE', kind: 'stop' }]);
    expect(nodeA.stats.written + nodeB.stats.written).toBe(2);
    expect(nodeA.stats.duplicates + nodeB.stats.duplicates).toBe(4);
  });

  it('a record still waiting for its batch is written at close', async () => {
    const w = new AccountingWriter(db, logger, { batchMs: 60_000 });
    w.write(rec('late-1'));
    w.write(rec('late-2'));
    await w.close();
    expect(await rows('late-')).toBe(2);
  });

  it('a batch MariaDB refuses is queued and written once the table is back', async () => {
    const w = new AccountingWriter(db, logger, { batchMs: 5, retryMs: 200 });
    await db.schema.renameTable('acc', 'acc_away');
    try {
      for (let i = 0; i < 5; i++) w.write(rec(`retry-${i}`));
      await expect.poll(() => w.queued, { timeout: 5000 }).toBe(5);
      expect(w.stats.failed).toBe(5);
    } finally {
      await db.schema.renameTable('acc_away', 'acc');
    }
    await expect.poll(() => rows('retry-'), { timeout: 5000 }).toBe(5);
    expect(w.queued).toBe(0);
    await w.close();
    expect(await rows('retry-')).toBe(5);
  });
});
