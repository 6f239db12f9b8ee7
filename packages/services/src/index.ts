/**
 * @ngcp/services — MariaDB, Redis and rtpengine as processes of ours: start in a data
 * dir, wait until really ready, remember PID and credentials in a state file, stop by
 * PID (never by name). Used by `ngcp up`/`ngcp down` and, through @ngcp/testkit, by the
 * tests. See README.md.
 */
export { startMariaDb, installMariaDbData } from './mariadb.js';
export type { MariaDbOptions, MariaDbInstance, MariaDbConnectionConfig } from './mariadb.js';

export { startRedis, redisRaw } from './redis.js';
export type { RedisOptions, RedisInstance, RedisReplicaOf } from './redis.js';

export { startRtpengine } from './rtpengine.js';
export type { RtpengineOptions, RtpengineInstance, RtpengineRedisTarget } from './rtpengine.js';

export { stopInstanceInDir, runningInstance, readState, writeState, clearStatePid, removeState, STATE_FILE } from './state.js';
export type { InstanceState } from './state.js';

export { spawnService, waitReady, stopPid, readCmdline, redactedCommandLine } from './proc.js';
export type { SpawnOptions, ManagedProcess, ExitInfo, WaitReadyOptions } from './proc.js';

export { prepareDataDir, removeDirSync } from './data-dir.js';
export type { DataDir } from './data-dir.js';

export { onExitSync } from './lifecycle.js';
export type { ProcessOptions } from './lifecycle.js';
export { ServiceStartError, pidAlive, isZombie, findBinary, tailFile, randomSecret, sleep, withTimeout } from './util.js';

export { redisLead, redisFollow, redisReplicationStatus, mariadbLead, mariadbFollow, mariadbReplicationStatus, replicationStatus, gtidDiverged, ReplicationError } from './replication.js';
export type { RoleChange, RedisReplicationStatus, MariaDbAdmin, ReplicationAccount, MariaDbReplicationStatus, MariaDbLeadOptions, MariaDbFollowOptions, MariaDbFollowResult, ReplicationStatus } from './replication.js';
export { redisCommand, redisInfo, parseResp, RedisReplyError } from './resp.js';
export type { RedisTarget, RespValue } from './resp.js';
