/**
 * @ngcp/testkit — private MariaDB, Redis and rtpengine instances for tests: the launchers
 * of @ngcp/services in temp dirs, on free ports, swept when their owner died. See README.md.
 */
export { freePort, freeConsecutivePorts, releasePort, allocatePortRange } from './ports.js';
export type { FreePortOptions, PortRange } from './ports.js';

export { startMariaDb } from './mariadb.js';
export type { MariaDbOptions } from './mariadb.js';
export { startRedis } from './redis.js';
export type { RedisOptions } from './redis.js';
export { startRtpengine } from './rtpengine.js';
export type { RtpengineOptions } from './rtpengine.js';
export { sweepStaleDirs } from './dirs.js';
export { lossyRelay } from './lossy-relay.js';
export { stillValue } from './still.js';
export type { LossyRelay } from './lossy-relay.js';

// what tests use of the production launchers, from one import
export { redisRaw, stopInstanceInDir, runningInstance, readState, STATE_FILE, stopPid, ServiceStartError, pidAlive } from '@ngcp/services';
export type {
  MariaDbInstance,
  MariaDbConnectionConfig,
  RedisInstance,
  RedisReplicaOf,
  RtpengineInstance,
  RtpengineRedisTarget,
  InstanceState,
} from '@ngcp/services';
