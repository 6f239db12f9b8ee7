// Side `ours-rtp` of bench/failover.mjs: the node runs, besides the answerer and hbd, its own
// Redis (the standby's replicates the active's over the crosslink: hbd's redis step) and
// rtpengine the way a pair node's rtpengine.conf renders it (interface = the shared IP,
// redis = redis-write = DB 1 of the node's Redis, subscribe-keyspace 1, listen-cli; hbd's
// media step tells it active/standby). One call set up by ng offer/answer on the active
// node's rtpengine; RTP from the client both ways every 20 ms (test/ha/rtp-agent.mjs).
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

let seq = 0;

/** Redis and rtpengine of node x (fresh data dir each run); the processes, for killing by group. */
export function startMediaNode({ x, ns, ip, work, startIn }) {
  const dir = join(work, `rtp-${x}-${++seq}`);
  mkdirSync(dir, { recursive: true });
  const cross = x === 'a' ? ip.xa : ip.xb;
  const redis = startIn(ns, 'redis-server', [
    '--bind', `127.0.0.1 ${cross}`, '--port', '6379', '--protected-mode', 'no', '--save', '', '--appendonly', 'no', '--dir', dir,
    '--notify-keyspace-events', 'KEA', '--repl-diskless-sync-delay', '0',
  ], `redis-${x}.log`);
  const rtpengine = startIn(ns, 'sh', ['-c', `until redis-cli -h 127.0.0.1 ping >/dev/null 2>&1; do sleep 0.05; done; exec rtpengine --foreground --log-stderr --table=-1 --interface=${ip.vip} --listen-ng=127.0.0.1:2223 --listen-cli=127.0.0.1:9900 --port-min=30000 --port-max=30999 --redis=127.0.0.1:6379/1 --redis-write=127.0.0.1:6379/1 --subscribe-keyspace=1 --no-redis-required --log-level=5 --pidfile=${join(dir, 'rtpengine.pid')}`], `rtpengine-${x}.log`);
  return [redis, rtpengine];
}

function inNs(ns, cmd) {
  return spawnSync('ip', ['netns', 'exec', ns, 'bash', '-c', cmd], { encoding: 'utf8', timeout: 10_000 });
}

/** `list numsessions` of node ns's rtpengine: { own, foreign } or null. */
export function sessions(ns) {
  const out = inNs(ns, 'exec 3<>/dev/tcp/127.0.0.1/9900 && echo "list numsessions" >&3 && timeout 2 cat <&3').stdout ?? '';
  const own = /sessions own: (\d+)/.exec(out)?.[1];
  const foreign = /sessions foreign: (\d+)/.exec(out)?.[1];
  return own === undefined ? null : { own: Number(own), foreign: Number(foreign) };
}

/** The standby's Redis follows the active's (hbd's redis step). */
export function replicaUp(ns) {
  return /master_link_status:up/.test(inNs(ns, 'redis-cli -h 127.0.0.1 info replication').stdout ?? '');
}

/** An RTP agent in namespace ns (test/ha/rtp-agent.mjs): { port, send(to, port), count(), stop() }. */
export async function startAgent({ root, ns, address, startIn }) {
  const p = startIn(ns, process.execPath, [join(root, 'test/ha/rtp-agent.mjs'), '--bind', address, '--max-ms', '60000'], `rtp-agent.log`, { stdin: true });
  const write = (l) => p.stdin.write(`${l}\n`);
  const rl = createInterface({ input: p.stdout });
  const lines = [];
  const waiters = [];
  rl.on('line', (l) => { lines.push(l); waiters.splice(0).forEach((w) => w()); });
  const next = () => new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error('rtp-agent: no answer')), 5000);
    const check = () => { const l = lines.shift(); if (l === undefined) return void waiters.push(check); clearTimeout(t); res(JSON.parse(l)); };
    check();
  });
  const { port } = await next();
  return {
    port,
    proc: p,
    send: (to, toPort) => write(JSON.stringify({ to, port: toPort })),
    count: async () => { write('count'); return (await next()).received; },
    stop: async () => { write('stop'); return next(); },
  };
}

/** offer/answer on node ns's rtpengine: { toCaller, toCallee } ports on the shared IP. */
export function ngCall({ here, ns, caller, callee }) {
  const r = spawnSync('ip', ['netns', 'exec', ns, process.execPath, join(here, 'failover/ng-call.mjs'), '--ng', '127.0.0.1:2223', '--caller', caller, '--callee', callee], { encoding: 'utf8', timeout: 10_000 });
  if (r.status !== 0) throw new Error(`ng call on ${ns}: ${r.stderr || r.error?.message}`);
  return JSON.parse(r.stdout);
}

/**
 * One direction of a stream around the fault at t0: the longest silence between two
 * arrivals from t0 − 1 s on, and t0 → the first packet after it (the new node's first
 * relayed packet; packets already on their way through the old node arrive before the
 * silence). null when no packet came after the fault.
 */
export function rtpResume(arrivals, t0) {
  const around = arrivals.filter((t) => t >= t0 - 1000).sort((p, q) => p - q);
  let gap = 0;
  let at = null;
  for (let i = 1; i < around.length; i++) if (around[i] - around[i - 1] > gap) { gap = around[i] - around[i - 1]; at = around[i]; }
  if (at === null || at < t0) return null;
  return { resume_ms: Math.round(at - t0), gap_ms: Math.round(gap) };
}
