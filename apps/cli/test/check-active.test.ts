/**
 * `ngcp-check-active`: a single node is active; a node with a peer asks its HA daemon
 * (hbd, JSON-RPC `ha.status` on heartbeat.control_port) and is unknown (exit 3) when
 * hbd cannot be asked; -q silences it. ngcp-make-active / ngcp-make-standby call
 * `ha.make_active` / `ha.make_standby`, ngcp-status and ngcp-motd show the role. The
 * answers here come from a stand-in that speaks hbd's documented control methods (the
 * real hbd's answers are tested in apps/hbd/test/pair.int.test.ts).
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

  it('-q prints nothing, not even why the role is unknown', async () => {
    const n = await configOnly('sp1');
    expect(await n.cmd('ngcp-check-active', ['-q'])).toMatchObject({ code: 3, out: '', err: '' });
    const single = await configOnly('self');
    expect(await single.cmd('ngcp-check-active', ['-q'])).toMatchObject({ code: 0, out: '', err: '' });
  });

  it('a single node: make-active is a no-op (exit 0), make-standby is refused (exit 1); the banner says single node', async () => {
    const n = await configOnly('self');
    expect(await n.cmd('ngcp-make-active', [])).toMatchObject({ code: 0, out: 'node self is a single node: always active\n' });
    const r = await n.cmd('ngcp-make-standby', []);
    expect(r.code).toBe(1);
    expect(r.err).toContain('cannot be standby');
    const m = await n.cmd('ngcp-motd', []);
    expect(m.code).toBe(0);
    expect(m.out).toMatch(/ngcp node self on .* — ACTIVE, single node/);
    expect(m.out).toContain('role: active (single node)');
  });

  it('make-active / make-standby call hbd and report; a refusal or a failed handover exits 1; no hbd exits 3', async () => {
    const n = await configOnly('sp1');
    expect((await n.cmd('ngcp-make-standby', [])).code).toBe(3);
    const answers: Record<string, unknown> = {
      'ha.make_active': { jsonrpc: '2.0', id: 1, result: { role: 'active', epoch: 7 } },
      'ha.make_standby': { jsonrpc: '2.0', id: 1, result: { role: 'standby', epoch: 7, switched: true } },
      'ha.status': { jsonrpc: '2.0', id: 1, result: { node: 'sp1', role: 'standby', epoch: 7, peer: { node: 'sp2', alive: true, role: 'active' } } },
    };
    const hbd: Server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(answers[(JSON.parse(body) as { method: string }).method]));
      });
    });
    await new Promise<void>((r) => hbd.listen(n.ports.hb_control, '127.0.0.2', r));
    try {
      expect(await n.cmd('ngcp-make-active', [])).toMatchObject({ code: 0, out: 'node sp1 is active (epoch 7); peer sp2 is standby\n' });
      expect(await n.cmd('ngcp-make-standby', [])).toMatchObject({ code: 0, out: 'node sp1 is standby (epoch 7); peer sp2 is active\n' });
      answers['ha.make_standby'] = { jsonrpc: '2.0', id: 1, result: { role: 'standby', epoch: 7, switched: false } };
      const late = await n.cmd('ngcp-make-standby', []);
      expect(late.code).toBe(1);
      expect(late.err).toContain('did not take over');
      answers['ha.make_standby'] = { jsonrpc: '2.0', id: 1, error: { code: -32001, message: 'make_standby refused: the peer is not alive' } };
      const refused = await n.cmd('ngcp-make-standby', []);
      expect(refused.code).toBe(1);
      expect(refused.err).toContain('refused: the peer is not alive');
      const m = await n.cmd('ngcp-motd', []);
      expect(m.out).toMatch(/ngcp node sp1 on .* — STANDBY, pair sp \(peer sp2\)/);
      expect(m.out).toContain('role: standby (epoch 7, peer sp2 active)');
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
