/**
 * Asking this node's HA daemon (hbd) over its control RPC: JSON-RPC 2.0 over HTTP POST
 * to `http://<internal address>:<heartbeat.control_port>/` (methods `ha.status`,
 * `ha.make_active`, `ha.make_standby`; see apps/hbd/README.md). A node without a peer in
 * network.yml has no hbd: it is a single node, active by definition.
 */
import { request } from 'node:http';
import { loadConfig, nodeAddresses, type NgcpConfig } from '@ngcp/config';
import type { NodeContext } from './node.js';

export type Role = 'active' | 'standby';

/** The part of `ha.status` the commands use. */
export interface HaStatus {
  node?: string;
  role: Role;
  epoch?: number;
  peer?: { node?: string; alive?: boolean; role?: string | null };
  [k: string]: unknown;
}

export type HaTarget =
  | { kind: 'single'; node: string; cfg: NgcpConfig }
  | { kind: 'pair'; node: string; peer: string; url: string; cfg: NgcpConfig }
  | { kind: 'error'; reason: string };

/** Whether this node is single or one of a pair, and where its hbd answers. */
export function haTarget(ctx: NodeContext): HaTarget {
  let cfg: NgcpConfig;
  try {
    cfg = loadConfig({ configDir: ctx.paths.configDir, node: ctx.node }).config;
  } catch (e) {
    return { kind: 'error', reason: `cannot read the config of node ${ctx.node}: ${(e as Error).message.split('\n')[0]}` };
  }
  const host = cfg.hosts[ctx.node];
  if (!host) return { kind: 'error', reason: `node ${ctx.node} is not a host of network.yml` };
  if (!host.peer) return { kind: 'single', node: ctx.node, cfg };
  return { kind: 'pair', node: ctx.node, peer: host.peer, url: `http://${nodeAddresses(cfg, ctx.node).internal}:${cfg.heartbeat.control_port}/`, cfg };
}

/** One JSON-RPC call; the result, or why there is none (never throws). */
export function callHbd(url: string, method: string, timeoutMs = 2000): Promise<{ result: unknown } | { reason: string }> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method });
  return new Promise((resolve) => {
    const req = request(url, { method: 'POST', timeout: timeoutMs, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
      let data = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        if (data.length < 1 << 20) data += c;
      });
      res.on('error', (e) => resolve({ reason: e.message }));
      res.on('end', () => {
        try {
          const j = JSON.parse(data) as { result?: unknown; error?: { message?: string } };
          if (j.error) return resolve({ reason: `${method} failed: ${j.error.message ?? 'error'}` });
          resolve({ result: j.result });
        } catch {
          resolve({ reason: `not a JSON-RPC answer (HTTP ${res.statusCode ?? 0})` });
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (e) => resolve({ reason: (e as NodeJS.ErrnoException).code ?? e.message }));
    req.end(body);
  });
}

/** `ha.status` of hbd: its status with a valid role, or why there is none. */
export async function askHbd(url: string, timeoutMs = 2000): Promise<HaStatus | { reason: string }> {
  const r = await callHbd(url, 'ha.status', timeoutMs);
  if ('reason' in r) return r;
  const s = r.result as Partial<HaStatus> | null;
  if (s && (s.role === 'active' || s.role === 'standby')) return s as HaStatus;
  return { reason: `ha.status gave no role (${JSON.stringify(r.result ?? null)})` };
}

/** The one line ngcp-status and ngcp-motd show for the role of this node. */
export async function roleLine(ctx: NodeContext): Promise<string> {
  const t = haTarget(ctx);
  if (t.kind === 'error') return `role: unknown (${t.reason})`;
  if (t.kind === 'single') return 'role: active (single node)';
  const s = await askHbd(t.url, 1500);
  if ('reason' in s) return `role: unknown (hbd at ${t.url}: ${s.reason})`;
  const peer = s.peer ? `, peer ${s.peer.node ?? t.peer} ${s.peer.alive ? (s.peer.role ?? 'alive') : 'DEAD'}` : '';
  return `role: ${s.role}${s.epoch !== undefined ? ` (epoch ${s.epoch}${peer})` : ''}`;
}
