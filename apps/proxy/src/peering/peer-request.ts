/**
 * Where a request to a peering server goes (pure): the Request-URI names the server as
 * provisioned (host, port, transport; the callee as dialled or E.164 with `e164_to_ruri`);
 * with an lb it is sent to the lb's internal address with a Route entry of the lb carrying
 * the resolved target as `received` (the form of the lb's own Path entries, docs/calls.md),
 * so the lb — the only public SIP element — sends it on over UDP, TCP or TLS; without an
 * lb it goes straight to the target (UDP only).
 */
import type { Destination, Target } from '@ngcp/sip';
import { peerRuriUser, type PeerServer } from './selection.js';

export interface PeerRequestTarget {
  ruri: string;
  /** Route header values */
  route: string[];
  /** the next hop; undefined when it cannot be reached (TCP/TLS without an lb) */
  dest: Destination | undefined;
}

const hostOf = (h: string): string => (h.includes(':') ? `[${h}]` : h);

export function peerRequestTarget(server: PeerServer, target: Pick<Target, 'transport' | 'address' | 'port'>, callee: string, lb: { address: string; port: number } | null): PeerRequestTarget {
  const tp = server.transport === 'udp' ? '' : `;transport=${server.transport}`;
  const ruri = `sip:${peerRuriUser(server, callee)}@${hostOf(server.host)}:${server.port}${tp}`;
  return { ruri, ...peerHop(target, lb) };
}

/** The next hop of any request to a peer's resolved target (calls, probes, REGISTER): the lb with a Route carrying the target, or the target itself (UDP only). */
export function peerHop(target: Pick<Target, 'transport' | 'address' | 'port'>, lb: { address: string; port: number } | null): Omit<PeerRequestTarget, 'ruri'> {
  if (lb) {
    const received = `sip:${hostOf(target.address)}:${target.port}${target.transport === 'udp' ? '' : `%3Btransport%3D${target.transport}`}`;
    return { route: [`<sip:${hostOf(lb.address)}:${lb.port};lr;received=${received}>`], dest: { transport: 'udp', address: lb.address, port: lb.port } };
  }
  return { route: [], dest: target.transport === 'udp' ? { transport: 'udp', address: target.address, port: target.port } : undefined };
}
