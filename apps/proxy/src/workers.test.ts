import { describe, expect, it } from 'vitest';
import type { ProxyConfig } from './config.js';
import { WORKER_ENV, workerConfig, workerIndex, workerPorts } from './workers.js';

const base = {
  listen: { address: '127.0.0.2', udp_port: 5062 },
  control: { address: '127.0.0.2', port: 9062 },
  workers: 3,
} as ProxyConfig;

describe('worker index, config and ports', () => {
  it.each([
    [undefined, 0],
    ['', 0],
    ['0', 0],
    ['2', 2],
    ['63', 63],
  ])('%s=%s → worker %s', (v, want) => {
    expect(workerIndex(v === undefined ? {} : { [WORKER_ENV]: v })).toBe(want);
  });

  it.each(['-1', 'x', '1.5', '100', ' 1'])('a bad index (%j) is refused with the variable named', (v) => {
    expect(() => workerIndex({ [WORKER_ENV]: v })).toThrow(/NGCP_PROXY_WORKER must be a worker index/);
  });

  it('worker 0 runs the config as given; worker i listens on udp_port + i, its control endpoint on an ephemeral port', () => {
    expect(workerConfig(base, 0)).toBe(base);
    expect(workerConfig(base, 2)).toMatchObject({ listen: { address: '127.0.0.2', udp_port: 5064 }, control: { address: '127.0.0.2', port: 0 } });
    expect(() => workerConfig(base, 3)).toThrow(/outside 0\.\.2/);
    // an ephemeral SIP port (tests) stays ephemeral for every worker
    expect(workerConfig({ ...base, listen: { address: '127.0.0.1', udp_port: 0 } }, 1).listen.udp_port).toBe(0);
  });

  it("every worker's port, for own-Route recognition; none when the ports are ephemeral", () => {
    expect(workerPorts(base)).toEqual([5062, 5063, 5064]);
    expect(workerPorts({ ...base, workers: 1 })).toEqual([5062]);
    expect(workerPorts({ ...base, listen: { address: '127.0.0.1', udp_port: 0 } })).toEqual([]);
  });
});
