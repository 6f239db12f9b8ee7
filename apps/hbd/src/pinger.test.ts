import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Pinger, tcpProbe } from './pinger.js';

const CFG = { method: 'tcp' as const, port: 7, interval_ms: 200, timeout_ms: 150 };

/** A Pinger whose probes answer from a script: one boolean per ping node per round. */
function scripted(nodes: string[], rounds: Array<Array<boolean | 'unreachable'>>, fall?: number): Pinger {
  let r = -1;
  let i = 0;
  return new Pinger(nodes, { ...CFG, ...(fall === undefined ? {} : { fall }) }, () => undefined, async () => {
    if (i % nodes.length === 0) r++;
    i++;
    const v = rounds[r]![(i - 1) % nodes.length]!;
    return v === 'unreachable' ? 'unreachable' : v ? 'reached' : 'lost';
  });
}

describe('Pinger: a ping node counts as unreached only after `fall` failed probes in a row', () => {
  it('default fall 2: one lost probe keeps the count, the second in a row drops it, one success restores it', async () => {
    const p = scripted(['10.0.0.1'], [[true], [false], [true], [false], [false], [true]]);
    const seen: number[] = [];
    for (let k = 0; k < 6; k++) seen.push(await p.round());
    expect(seen).toEqual([1, 1, 1, 1, 0, 1]);
    expect(p.last.get('10.0.0.1')).toBe(true);
  });

  it('a node never reached counts as unreached from its first failed probe (a starting node learns its count in one round)', async () => {
    const p = scripted(['10.0.0.1', '10.0.0.2'], [[false, true], [false, true]]);
    expect(await p.round()).toBe(1);
    expect(p.last.get('10.0.0.1')).toBe(false);
  });

  it('no route to the ping node (its link is down) counts at once, whatever fall says', async () => {
    const p = scripted(['10.0.0.1'], [[true], ['unreachable'], [true]], 3);
    expect(await p.round()).toBe(1);
    expect(await p.round()).toBe(0);
    expect(await p.round()).toBe(1);
  });

  it('fall 1: every failed probe counts at once', async () => {
    const p = scripted(['10.0.0.1'], [[true], [false]], 1);
    expect(await p.round()).toBe(1);
    expect(await p.round()).toBe(0);
  });
});

describe('tcpProbe', () => {
  let server: Server | undefined;
  afterEach(() => server?.close());

  it('a listening port answers: reached', async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    expect(await tcpProbe('127.0.0.1', port, 150)).toBe('reached');
  });

  it('a connection already answered while the event loop was blocked past the timeout still counts as reached', async () => {
    server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const probe = tcpProbe('127.0.0.1', port, 20);
    const until = Date.now() + 80; // a stall longer than the probe's timeout
    while (Date.now() < until) { /* block the loop */ }
    expect(await probe).toBe('reached');
  });
});
