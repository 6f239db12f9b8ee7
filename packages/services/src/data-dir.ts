import { mkdirSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

/** The dir a service instance lives in (its data, log, state file). */
export interface DataDir {
  /** Absolute path. */
  dir: string;
  /** true if stop() (and the exit hook) delete it: only when `keepData: false` was given. */
  removeOnStop: boolean;
}

/** Creates `dataDir` (0700) if missing. It is kept on stop unless `keepData` is false. */
export function prepareDataDir(dataDir: string, keepData = true): DataDir {
  const dir = resolve(dataDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return { dir, removeOnStop: !keepData };
}

export function removeDirSync(dir: string): void {
  rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 50 });
}
