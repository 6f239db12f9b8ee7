/**
 * Every socket a node opens, from the merged config, and the clashes between them
 * (same protocol, overlapping ports, same address or a wildcard).
 */
import { nodeAddresses } from './network.js';
import type { NgcpConfig } from './schema.js';
import { proxyWorkerCount } from './workers.js';

export interface Listener {
  /** Key path of the port, e.g. `proxy.port`. */
  key: string;
  proto: 'udp' | 'tcp';
  ip: string;
  port: number;
  /** Last port of a range (inclusive), = port for a single port. */
  portMax: number;
}

export function listeners(cfg: NgcpConfig, hostName: string): Listener[] {
  const a = nodeAddresses(cfg, hostName);
  const host = cfg.hosts[hostName]!;
  const out: Listener[] = [];
  const add = (key: string, proto: 'udp' | 'tcp', ip: string, port: number, portMax = port): void => {
    if (ip) out.push({ key, proto, ip, port, portMax });
  };
  const { lb, proxy, sbc, appserver, mediactl, rtpproxy, heartbeat, api, mediator, database, redis } = cfg;
  if (lb.enable) {
    add('lb.sip_port', 'udp', a.public, lb.sip_port);
    add('lb.sip_port', 'tcp', a.public, lb.sip_port);
    if (lb.tls_enable) add('lb.tls_port', 'tcp', a.public, lb.tls_port);
    add('lb.internal_port', 'udp', a.internal, lb.internal_port);
    add('lb.control_port', 'tcp', a.internal, lb.control_port);
  }
  if (proxy.enable) {
    // one UDP port per worker: port … port + workers - 1
    add('proxy.port', 'udp', a.internal, proxy.port, proxy.port + proxyWorkerCount(cfg) - 1);
    add('proxy.control_port', 'tcp', a.internal, proxy.control_port);
  }
  if (sbc.enable) {
    add('sbc.port', 'udp', a.internal, sbc.port);
    add('sbc.control_port', 'tcp', a.internal, sbc.control_port);
  }
  if (appserver.enable) {
    add('appserver.port', 'udp', a.internal, appserver.port);
    add('appserver.control_port', 'tcp', a.internal, appserver.control_port);
    add('appserver.rtp_min', 'udp', a.internal, appserver.rtp_min, appserver.rtp_max);
  }
  if (mediactl.enable) add('mediactl.control_port', 'tcp', a.internal, mediactl.control_port);
  if (rtpproxy.enable) {
    add('rtpproxy.ng_port', 'udp', a.internal, rtpproxy.ng_port);
    add('rtpproxy.minport', 'udp', a.rtp, rtpproxy.minport, rtpproxy.maxport);
    if (host.peer !== null) add('rtpproxy.cli_port', 'tcp', a.internal, rtpproxy.cli_port ?? 9900);
  }
  if (heartbeat.enable && host.peer !== null) {
    if (a.ha) add('heartbeat.port', 'udp', a.ha, heartbeat.port);
    add('heartbeat.control_port', 'tcp', a.internal, heartbeat.control_port);
  }
  if (api.enable) add('api.port', 'tcp', a.web, api.port);
  if (mediator.enable) add('mediator.control_port', 'tcp', a.internal, mediator.control_port);
  if (database.enable) add('database.port', 'tcp', a.internal, database.port);
  if (redis.enable) add('redis.port', 'tcp', a.internal, redis.port);
  return out;
}

export interface PortClash {
  first: Listener;
  second: Listener;
}

const WILDCARD = new Set(['0.0.0.0', '::']);

export function portClashes(ls: Listener[]): PortClash[] {
  const out: PortClash[] = [];
  for (let j = 0; j < ls.length; j++) {
    for (let i = 0; i < j; i++) {
      const x = ls[i]!;
      const y = ls[j]!;
      if (x.proto !== y.proto) continue;
      if (x.ip !== y.ip && !WILDCARD.has(x.ip) && !WILDCARD.has(y.ip)) continue;
      if (x.port <= y.portMax && y.port <= x.portMax) {
        out.push({ first: x, second: y });
        break;
      }
    }
  }
  return out;
}
