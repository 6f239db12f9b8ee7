/**
 * What a node's addresses are, derived from its `hosts.<name>` entry of network.yml:
 * which IP each kind of listener binds. On a pair the public SIP, media and API
 * addresses are the shared IP (bound with ip_nonlocal_bind before it is present).
 */
import type { HostConfig, InterfaceConfig, InterfaceType, NgcpConfig } from './schema.js';

export interface NodeAddresses {
  /** lb public SIP (shared IP on a pair). */
  public: string;
  /** Internal SIP, control endpoints, MariaDB, Redis, rtpengine ng. */
  internal: string;
  /** rtpengine media (shared IP on a pair). */
  rtp: string;
  /** The API. */
  web: string;
  /** Crosslink address (null on a single node). */
  ha: string | null;
  /** The node's own static address of its first public interface. */
  own: string;
  shared: string[];
}

export function interfaceOfType(host: HostConfig, type: InterfaceType): [string, InterfaceConfig] | undefined {
  return Object.entries(host.interfaces).find(([, i]) => i.type.includes(type));
}

/** Addresses of host `name`; undefined values only for a host that failed validation. */
export function nodeAddresses(cfg: Pick<NgcpConfig, 'hosts'>, name: string): NodeAddresses {
  const host = cfg.hosts[name];
  if (!host) throw new Error(`no host '${name}' in network.yml`);
  const svc = (t: InterfaceType): string => {
    const i = interfaceOfType(host, t)?.[1];
    return i ? (i.shared_ip[0] ?? i.ip) : '';
  };
  const ext = interfaceOfType(host, 'sip_ext')?.[1];
  return {
    public: svc('sip_ext'),
    internal: interfaceOfType(host, 'sip_int')?.[1].ip ?? '',
    rtp: svc('rtp_ext'),
    web: svc('web_ext'),
    ha: interfaceOfType(host, 'ha_int')?.[1].ip ?? null,
    own: ext?.ip ?? '',
    shared: [...new Set(Object.values(host.interfaces).flatMap((i) => i.shared_ip))],
  };
}
