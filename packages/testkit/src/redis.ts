/** startRedis for tests: @ngcp/services' Redis in a temp dir on a free port. */
import { startRedis as startService, type RedisInstance, type RedisOptions as ServiceOptions } from '@ngcp/services';
import { recordChildPid } from './dirs.js';
import { freePort, releasePort } from './ports.js';
import { startPrivate } from './private.js';

export interface RedisOptions extends Omit<ServiceOptions, 'dataDir' | 'port' | 'onSpawn'> {
  /** Default: a free port (see freePort). */
  port?: number;
  /** Default: a new temp dir, removed on stop. */
  dataDir?: string;
  /** Keep the dir on stop. Default false for temp dirs, true when dataDir is given. */
  keepData?: boolean;
}

export async function startRedis(opts: RedisOptions = {}): Promise<RedisInstance> {
  const host = opts.host ?? '127.0.0.1';
  return startPrivate({
    service: 'redis',
    opts,
    inUse: /Address already in use/i,
    reserve: async () => {
      if (opts.port !== undefined) return { ports: opts.port, auto: false, release: () => undefined };
      const port = await freePort({ tcp: true, host });
      return { ports: port, auto: true, release: () => releasePort(port) };
    },
    start: (inst, port) =>
      startService({ ...opts, dataDir: inst.dir, port, keepData: !inst.removeOnStop, onSpawn: (pid) => recordChildPid(inst, pid) }),
  });
}
