/**
 * Accounting rows land on the ACTIVE node's MariaDB (issue #9, docs/takeover.md "Accounting at
 * a switchover"), against two real MariaDBs standing for the two nodes: the writer's own
 * ("local") and the peer's. A standby's server is read-only (`SET GLOBAL read_only = 1`, as
 * hbd's mariadb step does; the application user is not exempt), so rows written while this
 * node is standby must go to the peer; a queue that built up in the moment of the switch
 * lands there once hbd says so; back to local when the node is active again. Each row on one
 * server only.
 */
import { freePort, releasePort } from '@ngcp/testkit';
import { useMariaDb } from '@ngcp/testkit/vitest';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, migrate, type Db, type NewAcc } from '@ngcp/db';
import { AccountingWriter, isReadOnlyError } from '../src/store/accounting.js';

const local = useMariaDb();
const peer = useMariaDb();
const logger = pino({ level: process.env.TEST_LOG ?? 'silent' });
let dbLocal: Db;
let dbPeer: Db;
let rootLocal: Db;
let rootPeer: Db;

type Instance = ReturnType<typeof local>;
const appDb = (m: Instance): Db => createDb({ host: m.host, port: m.port, user: m.user, password: m.password, database: m.database, pool: { max: 3 }, acquireTimeoutMs: 3000 });
const rootDb = (m: Instance): Db => createDb({ socket: m.socket, user: 'root', password: m.rootPassword, database: m.database, pool: { max: 1 } });

beforeAll(async () => {
  [dbLocal, dbPeer, rootLocal, rootPeer] = [appDb(local()), appDb(peer()), rootDb(local()), rootDb(peer())];
  await Promise.all([migrate.latest(dbLocal), migrate.latest(dbPeer)]);
}, 120_000);
afterAll(async () => {
  await Promise.all([dbLocal, dbPeer, rootLocal, rootPeer].map((d) => d?.destroy()));
});

/** The node of `root` turns standby (read-only) or active (writable), as hbd's mariadb step does. */
const readOnly = async (root: Db, on: boolean): Promise<void> => void (await root.raw(`SET GLOBAL read_only = ${on ? 1 : 0}`));

const stop = (callid: string): NewAcc => ({ method: 'BYE', callid, sip_code: '200', sip_reason: 'OK', time: new Date(), from_tag: 'f', to_tag: 't' });
const callids = async (db: Db, prefix: string): Promise<string[]> =>
  (await db('acc').where('callid', 'like', `${prefix}%`).orderBy('callid').select('callid')).map((r: { callid: string }) => r.callid);

describe('AccountingWriter on a node of a pair', () => {
  it('a read-only server refuses the application user with a read-only error (what the writer recognises)', async () => {
    await readOnly(rootLocal, true);
    try {
      const err = await dbLocal('acc').insert(stop('ro-probe')).then(() => null, (e: unknown) => e);
      expect(err).not.toBeNull();
      expect(isReadOnlyError(err)).toBe(true);
    } finally {
      await readOnly(rootLocal, false);
    }
    expect(isReadOnlyError(new Error('connect ECONNREFUSED'))).toBe(false);
  });

  it("switchover by hbd's word: rows refused by the node turning standby are queued, land on the peer once told 'standby', and go home once told 'active'", async () => {
    const events: string[] = [];
    const w = new AccountingWriter(dbLocal, logger, {
      peer: dbPeer, batchMs: 5, retryMs: 300, roleGraceMs: 8000, roleRetryMs: 100,
      events: { switched: (to, reason) => events.push(`${to}:${reason}`) },
    });
    // this node active, the peer its read-only replica
    await readOnly(rootPeer, true);
    w.setRole('active');
    for (let i = 0; i < 3; i++) w.write(stop(`sw1-a-${i}`));
    await expect.poll(() => callids(dbLocal, 'sw1-a-'), { timeout: 5000 }).toHaveLength(3);

    // the switchover: ours turns read-only first (our hbd steps down), the peer becomes
    // writable a moment later; rows of this moment (the batch window) are refused here
    await readOnly(rootLocal, true);
    for (let i = 0; i < 4; i++) w.write(stop(`sw1-b-${i}`));
    await expect.poll(() => w.queued, { timeout: 5000 }).toBe(4);
    await readOnly(rootPeer, false);
    // without hbd's word (still 'active', within the grace) the queue waits for our own server
    await new Promise((r) => setTimeout(r, 400));
    expect(w.queued).toBe(4);
    expect(await callids(dbPeer, 'sw1-b-')).toEqual([]);

    w.setRole('standby');
    expect(w.target).toBe('peer');
    await expect.poll(() => callids(dbPeer, 'sw1-b-'), { timeout: 3000 }).toHaveLength(4);
    expect(w.queued).toBe(0);
    // new rows while standby: straight to the peer
    for (let i = 0; i < 2; i++) w.write(stop(`sw1-c-${i}`));
    await expect.poll(() => callids(dbPeer, 'sw1-c-'), { timeout: 3000 }).toHaveLength(2);

    // and back: the peer steps down, this node is active again
    await readOnly(rootPeer, true);
    await readOnly(rootLocal, false);
    w.setRole('active');
    for (let i = 0; i < 2; i++) w.write(stop(`sw1-d-${i}`));
    await w.close();
    expect(await callids(dbLocal, 'sw1-d-')).toHaveLength(2);

    // every row on exactly one server
    expect(await callids(dbLocal, 'sw1-')).toEqual([...['0', '1', '2'].map((i) => `sw1-a-${i}`), 'sw1-d-0', 'sw1-d-1']);
    expect(await callids(dbPeer, 'sw1-')).toEqual([...['0', '1', '2', '3'].map((i) => `sw1-b-${i}`), 'sw1-c-0', 'sw1-c-1']);
    expect(w.stats).toMatchObject({ written: 11, written_local: 5, written_peer: 6, duplicates: 0, dropped: 0 });
    expect(events).toEqual(['peer:ha.role', 'local:ha.role']);
    await readOnly(rootPeer, false);
  }, 30_000);

  it("without hbd's word (a process that missed it): a read-only refusal moves the rows to the peer, and the peer's refusal brings them back", async () => {
    const events: string[] = [];
    const w = new AccountingWriter(dbLocal, logger, { peer: dbPeer, batchMs: 5, retryMs: 300, events: { switched: (to, reason) => events.push(`${to}:${reason}`) } });
    await readOnly(rootLocal, true);
    for (let i = 0; i < 5; i++) w.write(stop(`sw2-a-${i}`));
    await expect.poll(() => callids(dbPeer, 'sw2-a-'), { timeout: 5000 }).toHaveLength(5);
    expect(w.target).toBe('peer');
    expect(w.stats.failed).toBe(5);

    // the pair swaps back: the peer read-only, ours writable
    await readOnly(rootPeer, true);
    await readOnly(rootLocal, false);
    for (let i = 0; i < 3; i++) w.write(stop(`sw2-b-${i}`));
    await expect.poll(() => callids(dbLocal, 'sw2-b-'), { timeout: 5000 }).toHaveLength(3);
    expect(w.target).toBe('local');
    await w.close();
    expect(await callids(dbLocal, 'sw2-a-')).toEqual([]);
    expect(await callids(dbPeer, 'sw2-b-')).toEqual([]);
    expect(w.stats).toMatchObject({ written_local: 3, written_peer: 5, duplicates: 0 });
    expect(events).toEqual(['peer:read-only', 'local:read-only']);
    await readOnly(rootPeer, false);
  }, 30_000);

  it('a peer that does not answer sends the rows back to our own server, which takes them once writable', async () => {
    const port = await freePort();
    const gone = createDb({ host: '127.0.0.1', port, user: 'nobody', password: 'x', database: 'ngcp', pool: { max: 1 }, acquireTimeoutMs: 1000 });
    try {
      const events: string[] = [];
      const w = new AccountingWriter(dbLocal, logger, { peer: gone, batchMs: 5, retryMs: 300, events: { switched: (to, reason) => events.push(`${to}:${reason}`) } });
      await readOnly(rootLocal, true);
      for (let i = 0; i < 3; i++) w.write(stop(`sw3-${i}`));
      await expect.poll(() => events.includes('local:peer-unreachable'), { timeout: 10_000 }).toBe(true);
      await readOnly(rootLocal, false);
      await expect.poll(() => callids(dbLocal, 'sw3-'), { timeout: 10_000 }).toHaveLength(3);
      await w.close();
      expect(w.stats).toMatchObject({ written_local: 3, written_peer: 0 });
      expect(events.slice(0, 2)).toEqual(['peer:read-only', 'local:peer-unreachable']);
    } finally {
      await readOnly(rootLocal, false);
      await gone.destroy();
      releasePort(port);
    }
  }, 30_000);

  it('a single node (no peer) keeps its rows queued for its own server, whatever hbd says', async () => {
    const w = new AccountingWriter(dbLocal, logger, { batchMs: 5, retryMs: 200 });
    w.setRole('standby');
    expect(w.target).toBe('local');
    await readOnly(rootLocal, true);
    try {
      w.write(stop('sw4-0'));
      await expect.poll(() => w.queued, { timeout: 5000 }).toBe(1);
    } finally {
      await readOnly(rootLocal, false);
    }
    await expect.poll(() => callids(dbLocal, 'sw4-'), { timeout: 5000 }).toHaveLength(1);
    await w.close();
  }, 30_000);
});
