/**
 * Accounting records (`acc`, packages/db): start on 200 to INVITE, stop on BYE, failure for
 * an unanswered call, keyed by Call-ID. Writes never block call handling: records written
 * within `batchMs` share one multi-row INSERT (one round trip and one commit instead of one
 * per record under load); a batch that MariaDB refuses is kept in a bounded queue and retried
 * until it is written. Writes are idempotent per (callid, kind) (`insertAccs`, INSERT IGNORE
 * on the unique key): a record the other node (or an earlier try) wrote already is counted as
 * a duplicate, not written twice.
 */
import type { Logger } from 'pino';
import type { CallType, Db, NewAcc } from '@ngcp/db';
import { CALL_TYPES, insertAccs } from '@ngcp/db';
import type { CallRecord } from './call-store.js';

/**
 * The accounting record of an INVITE's final (start on 2xx, failure otherwise) for `call`.
 * `initTime`: when the INVITE arrived (the session that took it knows it to the ms); without
 * it (a node that took the call over) the call record's start_time (s).
 */
export function inviteAccRecord(c: CallRecord, status: number, reason: string, toTag: string, initTime?: Date): NewAcc {
  return {
    method: 'INVITE', callid: c.call_id, from_tag: c.from_tag ?? '', to_tag: toTag, sip_code: String(status), sip_reason: reason.slice(0, 128), time: new Date(),
    init_time: initTime ?? (c.start_time ? new Date(Number(c.start_time) * 1000) : null),
    src_user: c.caller_user ?? null, src_domain: c.caller_domain ?? null, src_ip: c.src_ip ?? null,
    dst_user: c.callee_user ?? null, dst_domain: c.callee_domain ?? null, dst_ouser: c.dialled ?? null,
    src_subscriber_id: c.caller_subscriber_id ? Number(c.caller_subscriber_id) : null,
    dst_subscriber_id: c.callee_subscriber_id ? Number(c.callee_subscriber_id) : null,
    peering_server_id: c.peer_id ? Number(c.peer_id) : null,
    call_type: callType(c.call_type),
  };
}

/** A call record's `call_type` as acc takes it (anything unknown: 'call'). */
export function callType(v: string | undefined): CallType {
  return (CALL_TYPES as readonly string[]).includes(v ?? '') ? (v as CallType) : 'call';
}

export interface AccountingOptions {
  /** records kept while MariaDB is away; older ones are dropped (and counted) beyond. Default 100 000. */
  maxQueue?: number;
  /** ms between retries. Default 1000. */
  retryMs?: number;
  /** ms a record waits for others to share its INSERT. Default 50 (bench/README.md "CPU per call"). */
  batchMs?: number;
  /** rows per INSERT at most. Default 200. */
  maxBatch?: number;
}

export class AccountingWriter {
  private queue: NewAcc[] = [];
  private timer: NodeJS.Timeout | null = null;
  private flushing = false;
  private pending = new Set<Promise<void>>();
  readonly stats = { written: 0, duplicates: 0, failed: 0, dropped: 0 };

  constructor(private db: Db, private logger: Logger, private opts: AccountingOptions = {}) {}

  private batch: NewAcc[] = [];
  private batchTimer: NodeJS.Timeout | null = null;

  write(rec: NewAcc): void {
    if (this.queue.length > 0) {
      this.enqueue(rec);
      return;
    }
    this.batch.push(rec);
    if (this.batch.length >= (this.opts.maxBatch ?? 200)) this.sendBatch();
    else this.batchTimer ??= setTimeout(() => this.sendBatch(), this.opts.batchMs ?? 50);
  }

  private sendBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    const recs = this.batch;
    if (recs.length === 0) return;
    this.batch = [];
    const p = insertAccs(this.db, recs).then(
      (inserted) => {
        this.stats.written += inserted;
        this.stats.duplicates += recs.length - inserted;
      },
      (err: Error) => {
        this.stats.failed += recs.length;
        this.logger.warn({ component: 'acc', callIds: recs.map((r) => r.callid), err: err.message }, 'accounting write failed, queued for retry');
        for (const r of recs) this.enqueue(r);
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  /** Records waiting for MariaDB. */
  get queued(): number {
    return this.queue.length;
  }

  private enqueue(rec: NewAcc): void {
    if (this.queue.length >= (this.opts.maxQueue ?? 100_000)) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.queue.push(rec);
    this.timer ??= setTimeout(() => void this.flush(), this.opts.retryMs ?? 1000);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    if (this.flushing) return;
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.slice(0, 500);
        const inserted = await insertAccs(this.db, batch);
        this.queue.splice(0, batch.length);
        this.stats.written += inserted;
        this.stats.duplicates += batch.length - inserted;
      }
      this.logger.info({ component: 'acc' }, 'accounting queue flushed');
    } catch (err) {
      this.logger.warn({ component: 'acc', queued: this.queue.length, err: (err as Error).message }, 'accounting retry failed');
      this.timer ??= setTimeout(() => void this.flush(), this.opts.retryMs ?? 1000);
    } finally {
      this.flushing = false;
    }
  }

  /** Wait for writes in flight and try the queue once more (graceful stop). */
  async close(): Promise<void> {
    this.sendBatch();
    await Promise.allSettled([...this.pending]);
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length > 0) await this.flush();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.queue.length > 0) this.logger.error({ component: 'acc', lost: this.queue.length }, 'accounting records not written at stop');
  }
}
