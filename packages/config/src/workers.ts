/**
 * How many proxy worker processes a node runs (docs/workers.md): `proxy.workers`, or one
 * per CPU core when it is 0. Worker i listens on `proxy.port + i`; the lb's default proxy
 * set names every worker's port.
 */
import { availableParallelism } from 'node:os';
import type { NgcpConfig } from './schema.js';

export function proxyWorkerCount(cfg: Pick<NgcpConfig, 'proxy'>, cores: number = availableParallelism()): number {
  const w = cfg.proxy.workers ?? 0;
  const n = w > 0 ? w : cores;
  return Math.max(1, Math.min(64, Math.floor(n)));
}
