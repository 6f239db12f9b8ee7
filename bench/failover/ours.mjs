// Side `ours` of bench/failover.mjs: apps/hbd on node x with the settings `ngcpcfg` renders
// by default (beats every 100 ms on the crosslink and the bridge, deadtime 300 ms, the
// gateway as ping node, tcp probe), only the shared-IP and ARP steps (the answerer stands
// in for the platform, as it does under keepalived). With `media` (side ours-rtp): also
// the redis and media steps, against the node's Redis and rtpengine (bench/failover/media.mjs).
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

let seq = 0;
export function startHbd({ x, ns, ip, work, startIn, root, media = false }) {
  const main = join(root, 'apps/hbd/dist/main.js');
  if (!existsSync(main)) throw new Error(`${main} is not built (pnpm exec turbo run build)`);
  const me = x === 'a' ? { own: ip.a, cross: ip.xa } : { own: ip.b, cross: ip.xb };
  const peer = x === 'a' ? { name: 'fob-b', own: ip.b, cross: ip.xb } : { name: 'fob-a', own: ip.a, cross: ip.xa };
  const dir = join(work, `ours-${x}-${++seq}`);
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, 'hbd.yml');
  writeFileSync(conf, [
    `node: ${ns}`,
    `peer: ${peer.name}`,
    'control: { address: 127.0.0.1, port: 9069 }',
    'log: { level: info }',
    'interval_ms: 100',
    'deadtime_ms: 300',
    'key: "bench-failover-heartbeat-key-0123456789"',
    'paths:',
    `  - { name: crosslink, address: ${me.cross}, peer_address: ${peer.cross}, port: 694 }`,
    `  - { name: bridge, address: ${me.own}, peer_address: ${peer.own}, port: 694 }`,
    `pingnodes: [${ip.gw}]`,
    'ping: { method: tcp, port: 7, interval_ms: 200, timeout_ms: 150 }',
    `shared_ips: [{ ip: ${ip.vip}, prefix: 24, dev: eth0 }]`,
    ...(media
      ? [
          `redis: { host: 127.0.0.1, port: 6379, password: null, peer_host: ${peer.cross}, peer_port: 6379 }`,
          'media: { cli_host: 127.0.0.1, cli_port: 9900, keyspace: 1 }',
          'disabled_steps: [mariadb, notify, jobs]',
        ]
      : ['disabled_steps: [redis, mariadb, notify, jobs]']),
    'switchover_timeout_ms: 3000',
    'step_timeout_ms: 2000',
    '',
  ].join('\n'));
  return startIn(ns, process.execPath, [main, '--config', conf], `ours${media ? '-rtp' : ''}-${x}.log`);
}
