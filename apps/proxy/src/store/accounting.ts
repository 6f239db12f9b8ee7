/**
 * Accounting records (`acc`, packages/db): start on 200 to INVITE, stop on BYE, failure for
 * an unanswered call, keyed by Call-ID. Writes never block call handling: records written
 * within `batchMs` share one multi-row INSERT (one round trip and one commit instead of one
 * per record under load); a batch that MariaDB refuses is kept in a bounded queue and retried
 * until it is written. Writes are idempotent per (callid, kind) (`insertAccs`, INSERT IGNORE
 * on the unique key): a record the other node (or an earlier try) wrote already is counted as
 * a duplicate, not written twice.
 *
 * On a node of a pair the rows go to the ACTIVE node's MariaDB (docs/takeover.md "Accounting
 * at a switchover"): the writer knows the peer node's server (`peer`) and writes there while
 * its own node is standby — its own server is then a read-only replica that would refuse them
 * until the node is active again. It follows hbd's word (`setRole`, the `ha.role` control
 * method) and, without it, the servers' own: a read-only refusal (MariaDB 1290/1836) moves the
 * writer to the other server. Each row is sent to one server at a time.
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
    method: 'INVITE', callid: c.caller_call_id || c.call_id, from_tag: c.from_tag ?? '', to_tag: toTag, sip_code: String(status), sip_reason: reason.slice(0, 128), time: new Date(),
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

/** Where the rows go: this node's MariaDB, or the peer node's (while this node is standby). */
export type AccTarget = 'local' | 'peer';
/** The node's role as hbd tells it (`ha.role`). */
export type NodeRole = 'active' | 'standby';
/** Why the writer changed its target: hbd's word, a read-only refusal, the peer unreachable. */
export type SwitchReason = 'ha.role' | 'read-only' | 'peer-unreachable';

/** Counters the writer reports to (metrics.ts); all optional. */
export interface AccountingEvents {
  /** rows a server took (`written`) or had already (`duplicates`) */
  written?(target: AccTarget, written: number, duplicates: number): void;
  /** rows a server refused (queued for a retry) */
  failed?(target: AccTarget, rows: number): void;
  switched?(to: AccTarget, reason: SwitchReason): void;
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
  /** the peer node's MariaDB (a node of a pair): the rows go there while this node is standby. */
  peer?: Db;
  /**
   * ms after hbd's word (`setRole`) during which a refusal does not move the writer away from
   * the server hbd's role names: the other node is still running its steps (its MariaDB
   * becomes writable a few ms after ours turns read-only). Retries come every
   * `roleRetryMs` then. Default 5000.
   */
  roleGraceMs?: number;
  /** ms between retries within `roleGraceMs`. Default 200. */
  roleRetryMs?: number;
  events?: AccountingEvents;
}

/** MariaDB refusing a write because it is read-only (a standby's replica). */
export function isReadOnlyError(err: unknown): boolean {
  const e = err as { errno?: unknown; code?: unknown };
  // 1290 ER_OPTION_PREVENTS_STATEMENT (--read-only), 1836 ER_READ_ONLY_MODE
  return e?.errno === 1290 || e?.errno === 1836 || e?.code === 'ER_OPTION_PREVENTS_STATEMENT' || e?.code === 'ER_READ_ONLY_MODE';
}

const other = (t: AccTarget): AccTarget => (t === 'local' ? 'peer' : 'local');

export class AccountingWriter {
  private queue: NewAcc[] = [];
  private timer: NodeJS.Timeout | null = null;
  private timerDue = 0;
  private flushing = false;
  private pending = new Set<Promise<void>>();
  private batch: NewAcc[] = [];
  private batchTimer: NodeJS.Timeout | null = null;
  private targetNow: AccTarget = 'local';
  private role: NodeRole | null = null;
  private roleAt = Number.NEGATIVE_INFINITY;
  private switchedAt = Number.NEGATIVE_INFINITY;
  readonly stats = { written: 0, written_local: 0, written_peer: 0, duplicates: 0, failed: 0, dropped: 0, switches: 0 };

  constructor(private db: Db, private logger: Logger, private opts: AccountingOptions = {}) {}

  /** The server new rows go to now. */
  get target(): AccTarget {
    return this.targetNow;
  }

  /** Records waiting for MariaDB. */
  get queued(): number {
    return this.queue.length;
  }

  /**
   * hbd's word (`ha.role`): active → this node's server, standby → the peer's (when known).
   * Rows queued for the old target go to the new one at once.
   */
  setRole(role: NodeRole): void {
    this.role = role;
    this.roleAt = performance.now();
    const want: AccTarget = role === 'standby' && this.opts.peer ? 'peer' : 'local';
    if (want !== this.targetNow) this.switchTo(want, 'ha.role');
    if (this.queue.length > 0) this.retryIn(0);
  }

  write(rec: NewAcc): void {
    if (this.queue.length > 0) {
      this.enqueue(rec);
      return;
    }
    this.batch.push(rec);
    if (this.batch.length >= (this.opts.maxBatch ?? 200)) this.sendBatch();
    else this.batchTimer ??= setTimeout(() => this.sendBatch(), this.opts.batchMs ?? 50);
  }

  private dbOf(t: AccTarget): Db {
    return t === 'peer' && this.opts.peer ? this.opts.peer : this.db;
  }

  private sendBatch(): void {
    if (this.batchTimer) clearTimeout(this.batchTimer);
    this.batchTimer = null;
    const recs = this.batch;
    if (recs.length === 0) return;
    this.batch = [];
    const target = this.targetNow;
    const p = insertAccs(this.dbOf(target), recs).then(
      (inserted) => this.counted(target, recs.length, inserted),
      (err: Error) => {
        this.refused(target, recs, err, 'accounting write failed, queued for retry');
        for (const r of recs) this.enqueue(r);
        this.retryIn(this.afterFailure(target, err));
      },
    );
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private counted(target: AccTarget, sent: number, inserted: number): void {
    this.stats.written += inserted;
    this.stats[target === 'local' ? 'written_local' : 'written_peer'] += inserted;
    this.stats.duplicates += sent - inserted;
    this.opts.events?.written?.(target, inserted, sent - inserted);
  }

  private refused(target: AccTarget, recs: readonly NewAcc[], err: Error, msg: string): void {
    this.stats.failed += recs.length;
    this.opts.events?.failed?.(target, recs.length);
    this.logger.warn({ component: 'acc', target, callIds: recs.slice(0, 20).map((r) => r.callid), rows: recs.length, err: err.message }, msg);
  }

  private switchTo(to: AccTarget, reason: SwitchReason): void {
    const from = this.targetNow;
    this.targetNow = to;
    this.switchedAt = performance.now();
    this.stats.switches++;
    this.opts.events?.switched?.(to, reason);
    this.logger.info({ component: 'acc', from, to, reason, role: this.role, queued: this.queue.length + this.batch.length }, 'accounting target switched');
  }

  /**
   * After `used` refused a write: switch servers when that is the way out, and say when to
   * try again (ms).
   */
  private afterFailure(used: AccTarget, err: Error): number {
    const retryMs = this.opts.retryMs ?? 1000;
    if (used !== this.targetNow) return 0; // moved on meanwhile (hbd's word): the new target now
    const now = performance.now();
    if (now - this.roleAt < (this.opts.roleGraceMs ?? 5000)) return Math.min(retryMs, this.opts.roleRetryMs ?? 200);
    if (!this.opts.peer) return retryMs;
    const readOnly = isReadOnlyError(err);
    // our own server away (not read-only): wait for it; the peer away: this node is (about to be) the active one
    if (!readOnly && used === 'local') return retryMs;
    const quick = now - this.switchedAt >= retryMs; // both refused within retryMs: a switchover under way, no ping-pong
    this.switchTo(other(used), readOnly ? 'read-only' : 'peer-unreachable');
    return quick ? 0 : retryMs;
  }

  private enqueue(rec: NewAcc): void {
    if (this.queue.length >= (this.opts.maxQueue ?? 100_000)) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.queue.push(rec);
    this.retryIn(this.opts.retryMs ?? 1000);
  }

  /** A retry of the queue within `ms` (an earlier one already due stays). */
  private retryIn(ms: number): void {
    const due = performance.now() + ms;
    if (this.timer && this.timerDue <= due) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = due;
    this.timer = setTimeout(() => void this.flush(), ms);
  }

  private async flush(): Promise<void> {
    this.timer = null;
    if (this.flushing) return;
    this.flushing = true;
    let target = this.targetNow;
    try {
      while (this.queue.length > 0) {
        target = this.targetNow;
        const batch = this.queue.slice(0, 500);
        const inserted = await insertAccs(this.dbOf(target), batch);
        this.queue.splice(0, batch.length);
        this.counted(target, batch.length, inserted);
      }
      this.logger.info({ component: 'acc', target }, 'accounting queue flushed');
    } catch (err) {
      this.refused(target, this.queue.slice(0, 500), err as Error, 'accounting retry failed');
      this.retryIn(this.afterFailure(target, err as Error));
    } finally {
      this.flushing = false;
    }
  }

  /** Wait for writes in flight and try the queue once more (graceful stop). */
  async close(): Promise<void> {
    this.sendBatch();
    await Promise.allSettled([...this.pending]);
    this.clearTimer();
    if (this.queue.length > 0) await this.flush();
    this.clearTimer();
    if (this.queue.length > 0) this.logger.error({ component: 'acc', lost: this.queue.length }, 'accounting records not written at stop');
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
