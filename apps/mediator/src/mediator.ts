/**
 * The mediator's loop: turn the proxy's accounting records into CDRs, exactly one per call.
 *
 * A pass (at most `batch` calls, one transaction):
 * 1. the Call-IDs of the oldest records that may complete a call — stop and failure records
 *    not yet mediated (index ix_acc_queue) — and of start records older than
 *    `leftover_after_s` (answered calls whose end never came);
 * 2. every unmediated record of those calls; `mediateCall` decides each call's CDR, or that
 *    it is still open (a stop waiting for its start);
 * 3. the customers of the subscribers named and their primary numbers (the CLI);
 * 4. `INSERT IGNORE` of the CDRs (cdrs.call_id is unique: a CDR written before a crash, or by
 *    another mediator, is not written twice; the affected rows count what was written) and
 *    `mediated = 1` on their records, committed together.
 * A full batch starts the next pass at once; otherwise the next pass is `interval_ms` later.
 * Where MariaDB is read-only (the standby of a pair, a replica) the mediator writes nothing
 * and says so (`standby` in health and the metrics): it checks `@@read_only` itself, since a
 * privileged user's writes would pass a read-only server and break its replication.
 */
import type { Logger } from 'pino';
import type { Knex, NewCdr } from '@ngcp/db';
import { byCall, mediateCall, type AccRecord, type Mediated } from './mediate.js';
import type { MediatorMetrics } from './metrics.js';

export interface MediatorOptions {
  db: Knex;
  logger: Logger;
  metrics: MediatorMetrics;
  intervalMs: number;
  batch: number;
  leftoverAfterS: number;
  stopWaitS: number;
  /** mediated acc rows older than this many days are deleted (their CDRs stay); 0 keeps them forever */
  accKeepDays: number;
  /** the clock (tests) */
  now?: () => Date;
}

export interface PassResult {
  /** MariaDB was read-only: nothing done */
  standby: boolean;
  cdrs: number;
  duplicates: number;
  records: number;
  /** calls looked at that are still open (a stop waiting for its start) */
  open: number;
  /** the batch was full: more work is waiting */
  full: boolean;
  /** mediated acc rows deleted for being older than acc_keep_days */
  purged: number;
}

/** How often the purge of old mediated records runs, and how much one pass deletes at most (bounded work per pass). */
export const PURGE_EVERY_MS = 3_600_000;
const PURGE_CHUNK = 10_000;
const PURGE_CHUNKS_PER_PASS = 10;

const ACC_COLUMNS = ['id', 'kind', 'callid', 'sip_code', 'time', 'init_time', 'src_user', 'src_domain', 'src_ip', 'dst_user', 'dst_domain', 'dst_ouser',
  'src_subscriber_id', 'dst_subscriber_id', 'peering_server_id', 'call_type'] as const;

export class Mediator {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<PassResult> | null = null;
  private stopped = true;
  readonly totals = { passes: 0, cdrs: 0, duplicates: 0, records: 0, errors: 0, purged: 0 };
  private lastPurge = 0;
  last: { at: string; result?: PassResult; error?: string } | null = null;
  standby = false;
  backlog = 0;

  constructor(private opts: MediatorOptions) {}

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.run().then(
        (r) => this.schedule(r.full ? 0 : this.opts.intervalMs),
        // a failed pass (MariaDB away, a deadlock with another mediator) is retried within a second
        () => this.schedule(Math.min(this.opts.intervalMs, 1000)),
      );
    }, ms);
  }

  /** One pass now (the control method `mediator.run`); a pass already running is awaited, not doubled. */
  run(): Promise<PassResult> {
    this.running ??= this.pass().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  private async pass(): Promise<PassResult> {
    const { metrics, logger } = this.opts;
    const t0 = process.hrtime.bigint();
    try {
      const r = await this.passOnce();
      this.totals.passes++;
      this.totals.cdrs += r.cdrs;
      this.totals.duplicates += r.duplicates;
      this.totals.records += r.records;
      this.totals.purged += r.purged;
      this.last = { at: new Date().toISOString(), result: r };
      if (r.cdrs + r.duplicates > 0) metrics.passSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      return r;
    } catch (err) {
      this.totals.errors++;
      metrics.errors.inc();
      this.last = { at: new Date().toISOString(), error: (err as Error).message };
      logger.warn({ err: (err as Error).message }, 'mediation pass failed; retried');
      throw err;
    }
  }

  private async passOnce(): Promise<PassResult> {
    const { db, metrics, batch } = this.opts;
    const now = this.opts.now?.() ?? new Date();
    const standby = await this.readOnly();
    if (standby !== this.standby) this.opts.logger.info({ standby }, standby ? 'MariaDB is read-only: idle (standby)' : 'MariaDB is writable: mediating');
    this.standby = standby;
    metrics.standby.set(standby ? 1 : 0);
    const result: PassResult = { standby, cdrs: 0, duplicates: 0, records: 0, open: 0, full: false, purged: 0 };
    if (standby) return result;

    const completing = await db('acc').where('mediated', 0).whereIn('kind', ['stop', 'failure']).orderBy('id').limit(batch).select('callid');
    const leftovers = completing.length < batch
      ? await db('acc').where({ mediated: 0, kind: 'start' }).where('time', '<', new Date(now.getTime() - this.opts.leftoverAfterS * 1000))
        .orderBy('id').limit(batch - completing.length).select('callid')
      : [];
    const callIds = [...new Set([...completing, ...leftovers].map((r: { callid: string }) => r.callid))];
    result.full = completing.length + leftovers.length >= batch;
    if (callIds.length > 0) {
      const rows = (await db('acc').whereIn('callid', callIds).where('mediated', 0).orderBy('id').select(...ACC_COLUMNS)) as AccRecord[];
      const made: Mediated[] = [];
      for (const call of byCall(rows).values()) {
        const m = mediateCall(call, { now, leftoverAfterMs: this.opts.leftoverAfterS * 1000, stopWaitMs: this.opts.stopWaitS * 1000 });
        if (m) made.push(m);
        else result.open++;
      }
      if (made.length > 0) {
        await this.enrich(made.map((m) => m.cdr));
        const ids = made.flatMap((m) => m.accIds);
        // one INSERT IGNORE per (status, outcome): its affected rows count exactly the CDRs
        // written, also when another mediator wrote some of them first (the unique call_id)
        const groups = new Map<string, Mediated[]>();
        for (const m of made) {
          const k = `${m.cdr.call_status}|${m.outcome}`;
          const g = groups.get(k);
          if (g) g.push(m);
          else groups.set(k, [m]);
        }
        const written = await db.transaction(async (trx) => {
          const counts: Array<[Mediated, number]> = [];
          for (const g of groups.values()) {
            const q = trx('cdrs').insert(g.map((m) => m.cdr)).onConflict().ignore().toSQL().toNative();
            const [header] = (await trx.raw(q.sql, q.bindings as Knex.RawBinding[])) as unknown as [{ affectedRows: number }];
            counts.push([g[0]!, header.affectedRows]);
          }
          for (let i = 0; i < ids.length; i += 5000) await trx('acc').whereIn('id', ids.slice(i, i + 5000)).update({ mediated: 1 });
          return counts;
        });
        result.cdrs = written.reduce((a, [, n]) => a + n, 0);
        result.duplicates = made.length - result.cdrs;
        result.records = ids.length;
        metrics.accRecords.inc(ids.length);
        if (result.duplicates > 0) metrics.duplicates.inc(result.duplicates);
        for (const [m, n] of written) if (n > 0) metrics.cdrs.inc({ status: m.cdr.call_status, outcome: m.outcome }, n);
        if (result.duplicates > 0) this.opts.logger.info({ duplicates: result.duplicates }, 'CDRs existed already (not written twice)');
      }
    }
    if (!result.full) result.purged = await this.purge(now);
    const [count] = await db('acc').where('mediated', 0).whereIn('kind', ['stop', 'failure']).count({ n: '*' });
    this.backlog = Number((count as { n: number | string }).n);
    metrics.backlog.set(this.backlog);
    return result;
  }

  /**
   * Delete mediated acc rows older than acc_keep_days (their CDRs stay), at most once per
   * PURGE_EVERY_MS and at most PURGE_CHUNKS_PER_PASS × PURGE_CHUNK rows at a time (what is
   * left goes at the next passes), oldest first, so the table does not grow without bound
   * and no single statement holds locks for long.
   */
  private async purge(now: Date): Promise<number> {
    const { db, accKeepDays, metrics } = this.opts;
    if (accKeepDays <= 0 || now.getTime() - this.lastPurge < PURGE_EVERY_MS) return 0;
    const before = new Date(now.getTime() - accKeepDays * 86_400_000);
    let purged = 0;
    for (let i = 0; i < PURGE_CHUNKS_PER_PASS; i++) {
      const n = await db('acc').where('mediated', 1).where('time', '<', before).orderBy('id').limit(PURGE_CHUNK).delete();
      purged += n;
      if (n < PURGE_CHUNK) {
        this.lastPurge = now.getTime();
        break;
      }
    }
    if (purged > 0) {
      metrics.purged.inc(purged);
      this.opts.logger.info({ purged, before: before.toISOString() }, 'old mediated accounting records deleted');
    }
    return purged;
  }

  /** The customers of the subscribers named, and the caller's primary number as the CLI. */
  private async enrich(cdrs: NewCdr[]): Promise<void> {
    const { db } = this.opts;
    const subs = [...new Set(cdrs.flatMap((c) => [c.source_subscriber_id, c.destination_subscriber_id]).filter((x): x is number => x != null))];
    if (subs.length === 0) return;
    const customers = new Map<number, number | null>();
    for (const r of (await db('subscribers').whereIn('id', subs).select('id', 'customer_id')) as Array<{ id: number; customer_id: number | null }>) customers.set(r.id, r.customer_id);
    const clis = new Map<number, string>();
    for (const r of (await db('numbers').whereIn('subscriber_id', subs).where('is_primary', 1).select('subscriber_id', 'e164')) as Array<{ subscriber_id: number; e164: string }>) clis.set(r.subscriber_id, r.e164);
    for (const c of cdrs) {
      if (c.source_subscriber_id != null) {
        c.source_customer_id = customers.get(c.source_subscriber_id) ?? null;
        const cli = clis.get(c.source_subscriber_id);
        if (cli) c.source_cli = cli;
      }
      if (c.destination_subscriber_id != null) c.destination_customer_id = customers.get(c.destination_subscriber_id) ?? null;
    }
  }

  private async readOnly(): Promise<boolean> {
    const [rows] = (await this.opts.db.raw('SELECT @@global.read_only AS ro')) as unknown as [Array<{ ro: number | string }>];
    return Number(rows[0]?.ro ?? 0) === 1;
  }
}
