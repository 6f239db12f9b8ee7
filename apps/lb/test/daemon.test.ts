/**
 * The lb run by the daemon skeleton: its control endpoint answers health, the
 * dispatcher methods (bad params → invalid params) and serves the metrics.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RpcClient, RpcError, RPC_ERRORS, startDaemon, type RunningDaemon } from '@ngcp/daemon';
import { lbDaemon } from '../src/daemon.js';
import { Peer, lbConfig, logger } from './helpers.js';

let running: RunningDaemon;
let rpc: RpcClient;
let proxy: Peer;

beforeAll(async () => {
  proxy = await Peer.start('127.0.0.2');
  const config = await lbConfig({ proxies: [{ address: proxy.address, port: proxy.port }] });
  running = await startDaemon(lbDaemon, config, { logger });
  rpc = new RpcClient(running.url);
});

afterAll(async () => {
  rpc?.close();
  await running?.stop();
  await proxy?.close();
});

describe('lb control endpoint', () => {
  it('health is ok with listeners bound, degraded without MariaDB/Redis', async () => {
    expect(await rpc.call('health')).toMatchObject({ ok: true, degraded: true, listeners: 3 });
  });

  it('dispatcher.list / dispatcher.set / lb.stats', async () => {
    const id = `${proxy.address}:${proxy.port}`;
    expect(await rpc.call('dispatcher.list')).toEqual([expect.objectContaining({ destination: id, state: 'up', weight: 1 })]);
    expect(await rpc.call('dispatcher.set', { destination: id, state: 'down' })).toMatchObject({ state: 'down', admin_down: true });
    expect(await rpc.call('dispatcher.set', { destination: id, state: 'up' })).toMatchObject({ state: 'up', admin_down: false });
    const err = await rpc.call('dispatcher.set', { destination: '1.2.3.4:5', state: 'up' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcError);
    expect((err as RpcError).code).toBe(RPC_ERRORS.INVALID_PARAMS);
    expect(await rpc.call('lb.stats')).toMatchObject({ live_transactions: expect.any(Number), dispatch: [{ destination: id, state: 'up' }] });
    expect(await rpc.call('methods')).toEqual(expect.arrayContaining(['dispatcher.list', 'dispatcher.set', 'lb.stats', 'health', 'reload']));
  });

  it('serves the metrics on /metrics', async () => {
    const text = await (await fetch(new URL('/metrics', running.url))).text();
    for (const name of ['sip_requests_total', 'sip_responses_total', 'sip_transactions_live', 'sip_drops_total', 'lb_dispatch_destination_up', 'lb_forwarded_total']) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toContain(`lb_dispatch_destination_up{destination="${proxy.address}:${proxy.port}",daemon="lb"} 1`);
  });
});
