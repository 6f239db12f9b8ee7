/**
 * @ngcp/testkit — private MariaDB, Redis and rtpengine instances (temp dirs, free ports)
 * for tests, stopped by PID. Also usable for long-running services (`dataDir`, `detached`).
 * See README.md.
 */
export { freePort, releasePort, allocatePortRange } from './ports.js';
export type { FreePortOptions, PortRange } from './ports.js';

export { startMariaDb } from './mariadb.js';
export type { MariaDbOptions, MariaDbInstance, MariaDbConnectionConfig } from './mariadb.js';

export { startRedis, redisRaw } from './redis.js';
export type { RedisOptions, RedisInstance, RedisReplicaOf } from './redis.js';

export { startRtpengine } from './rtpengine.js';
export type { RtpengineOptions, RtpengineInstance, RtpengineRedisTarget } from './rtpengine.js';

export { ngRequest, bencode, bdecode } from './ng.js';
export type { BValue, BDecoded, NgRequestOptions } from './ng.js';

export { stopInstanceInDir, runningInstance, readState, STATE_FILE } from './state.js';
export type { InstanceState } from './state.js';

export { stopPid } from './proc.js';
export { sweepStaleDirs } from './dirs.js';
export { ServiceStartError, pidAlive } from './util.js';
