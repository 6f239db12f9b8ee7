/**
 * Peering for the e2e files with a node of their own (test/e2e/harness.ts): groups, servers
 * and rules provisioned through the REST API, sipp UAS standing for peering servers on their
 * own loopback addresses (127.0.0.5x: the proxy tells a peer from a subscriber by source
 * address), the proxy's control endpoint and the acc rows of a call.
 */
import { freePort } from '@ngcp/testkit';
import { until } from '@ngcp/cli/testing';
import { INTERNAL, type E2eNode } from './node.js';
import { RtpEndpoint } from './rtp.js';
import { bound, type SippOptions, type SippRun } from './sipp.js';

export interface PeerSpec { address: string; port: number; weight?: number; probe?: boolean }

export function peeringHelpers(o: { node: () => E2eNode; run: (opts: SippOptions) => SippRun; closers: Array<() => unknown> }) {
  let seq = 0;
  /** JSON-RPC on the proxy's control endpoint (worker 0). */
  async function proxyRpc<T>(method: string): Promise<T> {
    const res = await fetch(`http://${INTERNAL}:${o.node().t.ports.proxy_control!}/`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ jsonrpc: '2.0', id: 1, method }) });
    const j = (await res.json()) as { result?: T; error?: unknown };
    if (j.error) throw new Error(`${method}: ${JSON.stringify(j.error)}`);
    return j.result as T;
  }

  /** A peering group with its servers and one rule, through the REST API; resolves once the proxy has loaded them. */
  async function peeringGroup(priority: number, prefix: string | null, servers: PeerSpec[]): Promise<number[]> {
    const api = o.node().api;
    const g = await api.ok<{ id: number }>('POST', '/api/peeringgroups', { name: `carrier-${++seq}`, priority });
    if (prefix !== null) await api.ok('POST', '/api/peeringrules', { group_id: g.id, callee_prefix: prefix });
    const ids: number[] = [];
    for (const s of servers) {
      const c = await api.ok<{ id: number }>('POST', '/api/peeringservers', { group_id: g.id, name: `peer-${seq}-${ids.length + 1}`, host: s.address, port: s.port, weight: s.weight ?? 1, probe: s.probe ?? false });
      ids.push(c.id);
    }
    const loaded = await until(async () => {
      const list = await proxyRpc<{ servers: Array<{ id: number }> }>('peering.list');
      return ids.every((id) => list.servers.some((s) => s.id === id)) ? true : undefined;
    }, 15_000, 100);
    if (!loaded) throw new Error('the proxy did not load the new peering servers');
    // every proxy worker gets the same ngcp:changes message; give the others a moment too
    await new Promise((r) => setTimeout(r, 300));
    return ids;
  }

  /** A sipp UAS standing for a peering server on `address`. */
  async function peer(address: string, scenario: string, keys: Record<string, string | number> = {}): Promise<{ run: SippRun; port: number; rtp: RtpEndpoint }> {
    const port = await freePort({ udp: true });
    const rtp = await RtpEndpoint.open();
    o.closers.push(() => rtp.close());
    const r = o.run({ scenario, localIp: address, localPort: port, keys: { user: 'carrier', contact_host: address, rtp_port: rtp.port, ...keys }, limitMs: 60_000 });
    await bound(port);
    return { run: r, port, rtp };
  }

  /** The acc rows of a Call-ID once there are `n` (the proxy writes accounting asynchronously), or what is there after 10 s. */
  async function accRows(callId: string, n: number) {
    const acc = o.node().acc;
    return (await until(async () => {
      const rows = await acc.byCallId(callId);
      return rows.length >= n ? rows : undefined;
    }, 10_000, 200)) ?? (await acc.byCallId(callId));
  }

  // groups(): how many groups were made (the servers of the n-th are named `peer-<n>-<i>`)
  return { proxyRpc, peeringGroup, peer, accRows, groups: () => seq };
}
