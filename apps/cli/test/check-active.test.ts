/**
 * `ngcp-check-active`: a single node is active; a node with a peer asks its HA daemon
 * (hbd, JSON-RPC `ha.status` on heartbeat.control_port) and is unknown (exit 3) when
 * hbd cannot be asked. hbd itself is not written yet: the role answers come from a
 * stand-in that speaks its documented control method.
 */
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DIST_BIN, makeNode, writeOverlay, type TestNode } from './node-helpers.js';

const nodes: TestNode[] = [];
afterAll(async () => {
  for (const n of nodes) await n.cleanup();
});

async function configOnly(node: string): Promise<TestNode> {
  const n = await makeNode({ node, init: false });
  nodes.push(n);
  const r = await n.cmd('ngcpcfg', ['init', '--node', node]);
  expect(r.code, r.err).toBe(0);
  writeOverlay(n, node, { redis: false });
  return n;
}

describe('ngcp-check-active', () => {
  it('a single node (no peer in network.yml) is active: exit 0, -v prints active', async () => {
    const n = await configOnly('self');
    const quiet = await n.cmd('ngcp-check-active', []);
    expect(quiet).toMatchObject({ code: 0, out: '', err: '' });
    expect(await n.cmd('ngcp-check-active', ['-v'])).toMatchObject({ code: 0, out: 'active\n' });
    if (!existsSync(join(DIST_BIN, 'ngcp-check-active.js'))) throw new Error('build first (./ngcp test does)');
    expect(await n.exe('ngcp-check-active', ['-v'])).toMatchObject({ code: 0, out: 'active\n' });
  });

  it('a node with a peer whose hbd cannot be asked is unknown: exit 3 and why', async () => {
    const n = await configOnly('sp1');
    const r = await n.exe('ngcp-check-active', ['-v']);
    expect(r.code).toBe(3);
    expect(r.out).toBe('unknown\n');
    expect(r.err).toContain(`unknown: node sp1 has a peer (sp2) and its HA daemon (hbd, http://127.0.0.2:${n.ports.hb_control}/) cannot be asked: ECONNREFUSED`);
  });

  it('with a peer, the role hbd reports decides: active 0, standby 1, nonsense 3', async () => {
    const n = await configOnly('sp2');
    let answer: unknown = { jsonrpc: '2.0', id: 1, result: { role: 'standby' } };
    const methods: string[] = [];
    const hbd: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        methods.push((JSON.parse(body) as { method: string }).method);
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answer));
      });
    });
    await new Promise<void>((r) => hbd.listen(n.ports.hb_control, '127.0.0.2', r));
    try {
      expect(await n.cmd('ngcp-check-active', ['-v'])).toMatchObject({ code: 1, out: 'standby\n' });
      answer = { jsonrpc: '2.0', id: 1, result: { role: 'active' } };
      expect(await n.cmd('ngcp-check-active', [])).toMatchObject({ code: 0, out: '' });
      answer = { jsonrpc: '2.0', id: 1, result: { role: 'primary' } };
      const odd = await n.cmd('ngcp-check-active', []);
      expect(odd.code).toBe(3);
      expect(odd.err).toContain('ha.status gave no role');
      expect(methods).toEqual(['ha.status', 'ha.status', 'ha.status']);
    } finally {
      await new Promise((r) => hbd.close(r));
    }
  });

  it('refuses unknown arguments with its usage (exit 2)', async () => {
    const n = await configOnly('self');
    const r = await n.cmd('ngcp-check-active', ['--bogus']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: ngcp-check-active');
  });
});
