/** startRtpengine for tests: @ngcp/services' rtpengine in a temp dir, on a free ng port and a private media port block. */
import { startRtpengine as startService, type RtpengineInstance, type RtpengineOptions as ServiceOptions } from '@ngcp/services';
import { recordChildPid } from './dirs.js';
import { allocatePortRange, freePort, releasePort } from './ports.js';
import { startPrivate } from './private.js';

export interface RtpengineOptions extends Omit<ServiceOptions, 'dataDir' | 'ngPort' | 'portMin' | 'portMax' | 'onSpawn'> {
  /** ng control port (UDP). Default: a free port. */
  ngPort?: number;
  /** Media port range. Default: a private free block of `portCount` ports. */
  portMin?: number;
  portMax?: number;
  /** Size of the automatically allocated media port block (multiple of 100). Default 100. */
  portCount?: number;
  /** Default: a new temp dir, removed on stop. */
  dataDir?: string;
  /** Keep the dir on stop. Default false for temp dirs, true when dataDir is given. */
  keepData?: boolean;
}

export async function startRtpengine(opts: RtpengineOptions = {}): Promise<RtpengineInstance> {
  const host = opts.host ?? '127.0.0.1';
  if ((opts.portMin === undefined) !== (opts.portMax === undefined)) {
    throw new Error('testkit: give both portMin and portMax, or neither');
  }
  const { portCount, ...rest } = opts;
  return startPrivate({
    service: 'rtpengine',
    opts,
    inUse: /address already in use|failed to bind/i,
    reserve: async () => {
      const ngPort = opts.ngPort ?? (await freePort({ udp: true, host }));
      const releaseNg = (): void => {
        if (opts.ngPort === undefined) releasePort(ngPort);
      };
      if (opts.portMin !== undefined && opts.portMax !== undefined) {
        return { ports: { ngPort, portMin: opts.portMin, portMax: opts.portMax }, auto: opts.ngPort === undefined, release: releaseNg };
      }
      try {
        const range = await allocatePortRange(portCount ?? 100, { udp: true, host });
        return {
          ports: { ngPort, portMin: range.min, portMax: range.max },
          auto: true,
          release: () => {
            releaseNg();
            range.release();
          },
        };
      } catch (err) {
        releaseNg();
        throw err;
      }
    },
    start: (inst, ports) =>
      startService({ ...rest, ...ports, dataDir: inst.dir, keepData: !inst.removeOnStop, onSpawn: (pid) => recordChildPid(inst, pid) }),
  });
}
