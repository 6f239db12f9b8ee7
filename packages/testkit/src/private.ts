/**
 * A service of @ngcp/services in a private place: a temp dir (or the given dataDir) and
 * ports reserved by this kit (or the given ones). A bind clash on ports we chose (another
 * program took one between our check and the service's bind) is retried with new ones.
 */
import { removeDirSync } from '@ngcp/services';
import { prepareInstanceDir, type InstanceDir } from './dirs.js';

export interface Reserved<P> {
  ports: P;
  /** true if this kit chose them (a clash is then retried). */
  auto: boolean;
  release(): void;
}

export async function startPrivate<P, I extends { stop(): Promise<void> }>(o: {
  service: string;
  opts: { dataDir?: string | undefined; keepData?: boolean | undefined };
  reserve: () => Promise<Reserved<P>>;
  start: (inst: InstanceDir, ports: P) => Promise<I>;
  /** What the service's log says when a port is taken. */
  inUse: RegExp;
}): Promise<I> {
  for (let attempt = 1; ; attempt++) {
    const inst = prepareInstanceDir(o.service, o.opts);
    let r: Reserved<P>;
    try {
      r = await o.reserve();
    } catch (err) {
      if (inst.removeOnStop) removeDirSync(inst.dir);
      throw err;
    }
    try {
      const instance = await o.start(inst, r.ports);
      let stopped: Promise<void> | undefined;
      return {
        ...instance,
        stop: () =>
          (stopped ??= (async () => {
            await instance.stop();
            r.release();
          })()),
      };
    } catch (err) {
      r.release();
      if (inst.removeOnStop) removeDirSync(inst.dir);
      const logTail = (err as { logTail?: unknown }).logTail;
      if (r.auto && attempt < 3 && typeof logTail === 'string' && o.inUse.test(logTail)) continue;
      throw err;
    }
  }
}
