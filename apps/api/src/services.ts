/** What the request handlers share: connections, config, auth and the change notifier. */
import type { FastifyBaseLogger } from 'fastify';
import type { Knex, Reader } from '@ngcp/db';
import type { Redis } from 'ioredis';
import type { ApiConfig } from './config.js';
import type { Authenticator } from './auth/authenticator.js';
import type { BruteForceGuard } from './auth/bruteforce.js';
import type { Notifier } from './notifier.js';
import type { Metrics } from './metrics.js';
import type { MwiTrigger } from './mwi.js';
import type { RpcClient } from '@ngcp/rpc';

export interface Services {
  config: ApiConfig;
  db: Knex;
  /** prepared-statement reads of the hot paths (see @ngcp/db reader.ts) */
  reader: Reader;
  redis: Redis;
  auth: Authenticator;
  guard: BruteForceGuard;
  notifier: Notifier;
  metrics: Metrics;
  /** asks the app-server for an MWI NOTIFY after a voicemail changed */
  mwi: MwiTrigger;
  /** the sbc's control endpoint (`calls.sbc_control`): DELETE /api/calls ends a call through it; null without an sbc */
  sbc: RpcClient | null;
  log: FastifyBaseLogger;
}
