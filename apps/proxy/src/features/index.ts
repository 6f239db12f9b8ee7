/**
 * Number handling and call restrictions (issue #10): rewrite rules, NCOS, block lists,
 * CLIR/P-Asserted-Identity and concurrent-call limits. `createFeatures()` wires the store
 * (MariaDB, cached), the limits (Redis) and the metrics; `featureMethods()` adds the control
 * method `features.limits`.
 */
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { Db } from '@ngcp/db';
import { RPC_ERRORS, RpcError, type RpcHandler } from '@ngcp/rpc';
import { CallFeatures, type RefusalCode } from './call-features.js';
import { CallLimits, concKey } from './call-limits.js';
import { FeatureStore } from './feature-store.js';

export { CallFeatures, applyIdentity, callerAsksPrivacy, fromFor } from './call-features.js';
export type { Admission, Identity, InboundResult, Party, Refusal, RefusalCode } from './call-features.js';
export { CallLimits, concKey } from './call-limits.js';
export type { AdmitResult, LimitScope, LimitSlot } from './call-limits.js';
export { FeatureStore } from './feature-store.js';
export { ForwardChain, cftTimeoutMs, diversionHeader, forwardFor, forwardTarget, hasForward, numberOf } from './forwards.js';
export type { ForwardDestination, ForwardTarget, ForwardType, Forwards, StageOutcome } from './forwards.js';
export type { SubscriberProfile } from './feature-store.js';
export { compileRewriteSet, rewrite, RewriteSet } from './rewrite.js';
export type { RewriteDirection, RewriteField, RewriteRuleSpec, SkippedRule } from './rewrite.js';
export { blockedBy, blockPattern, e164, ncosAllows, reasonHeader } from './policy.js';
export type { BlockMode, NcosLevelSpec } from './policy.js';

export interface FeaturesOptions {
  db: Db;
  redis: Redis;
  logger: Logger;
  /** `calls.ttl_s`: the deadline of a counted call before it is checked against its `call:` key */
  callTtlSeconds: number;
  registry?: Registry;
}

export function createFeatures(o: FeaturesOptions): CallFeatures {
  const store = new FeatureStore(o.db, o.logger);
  const limits = new CallLimits(o.redis, o.callTtlSeconds);
  const features = new CallFeatures(store, limits, o.logger);
  if (o.registry) {
    new Counter({
      name: 'call_features_refused_total', help: 'Initial INVITEs refused by a call feature, by code (ncos, block-out, block-in, block-in-clir, limit-caller, limit-callee)',
      labelNames: ['code'], registers: [o.registry],
      collect() {
        // the counts live in CallFeatures.stats; a counter set from them at scrape time
        this.reset();
        for (const [code, n] of Object.entries(features.stats)) if (code !== 'rewritten' && n > 0) this.inc({ code: code as RefusalCode }, n);
      },
    });
    new Counter({
      name: 'call_forwards_total', help: 'Call forwards taken, by type (cfu, cfb, cfna, cft)', labelNames: ['type'], registers: [o.registry],
      collect() {
        this.reset();
        for (const [type, n] of Object.entries(features.forwardStats.taken)) if (n > 0) this.inc({ type }, n);
      },
    });
    new Counter({
      name: 'call_forward_skips_total',
      help: 'Forward destinations not called, by reason (voicemail: no app-server yet; invalid; foreign-uri: not a number at a host not ours; not-routable: no subscriber, no peering; loop; too-many-hops; limit-callee)',
      labelNames: ['reason'], registers: [o.registry],
      collect() {
        this.reset();
        for (const [reason, n] of Object.entries(features.forwardStats.skipped)) if (n > 0) this.inc({ reason }, n);
      },
    });
    new Counter({
      name: 'call_rewrites_total', help: 'Dialled numbers changed by an inbound rewrite rule', registers: [o.registry],
      collect() {
        this.reset();
        if (features.stats.rewritten > 0) this.inc(features.stats.rewritten);
      },
    });
  }
  return features;
}

/** `features.limits`: the live calls counted for a subscriber and/or a customer (pruned first). */
export function featureMethods(features: CallFeatures): Record<string, RpcHandler> {
  return {
    'features.sweep': async () => ({ sets: await features.limits.sweep() }),
    'features.limits': async (params) => {
      const p = (params ?? {}) as { subscriber_id?: unknown; customer_id?: unknown };
      const id = (v: unknown): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v > 0 ? v : undefined);
      const sub = id(p.subscriber_id);
      const cust = id(p.customer_id);
      if (sub === undefined && cust === undefined) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'params.subscriber_id or params.customer_id (positive integer) is required');
      const out: Record<string, unknown> = {};
      if (sub !== undefined) {
        const [calls, out_] = await features.limits.count([concKey('sub', sub), concKey('subout', sub)]);
        out.subscriber = { id: sub, calls, calls_out: out_ };
      }
      if (cust !== undefined) {
        const [calls, out_] = await features.limits.count([concKey('cust', cust), concKey('custout', cust)]);
        out.customer = { id: cust, calls, calls_out: out_ };
      }
      return out;
    },
  };
}
