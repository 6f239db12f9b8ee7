/** Where a SIP URI points when no DNS is involved: the proxy routes by IP addresses only. */
import { isIP } from 'node:net';
import type { LocationBinding } from '@ngcp/db';
import type { Destination, Uri } from '@ngcp/sip';
import { parseNameAddr, parseUri, unescapeUri } from '@ngcp/sip';

/** `sip:host:port;transport=t` → Destination, when the host is an IP address; otherwise undefined. */
export function uriDestination(uri: Uri): Destination | undefined {
  if (!uri.isSip) return undefined;
  const address = uri.hostname;
  if (isIP(address) === 0) return undefined;
  const transport = uri.transport ?? (uri.scheme === 'sips' ? 'tls' : 'udp');
  return { transport, address, port: uri.port ?? (transport === 'tls' ? 5061 : 5060) };
}

/** Where a request to a binding goes: its first Path entry (the lb), else its contact; undefined when neither names an IP address. */
export function bindingDestination(binding: LocationBinding): Destination | undefined {
  const path = binding.path ?? [];
  try {
    return uriDestination(parseNameAddr(path.length > 0 ? path[0]! : `<${binding.contact}>`, 'route').uri);
  } catch {
    return undefined;
  }
}

/** `proto:ip:port` (the LocationBinding `received` form) of a URI, or undefined. */
export function uriAddressString(uri: Uri): string | undefined {
  const d = uriDestination(uri);
  return d ? `${d.transport}:${d.address}:${d.port}` : undefined;
}

/**
 * The `received` address an edge proxy put into a Path entry (docs/calls.md:
 * `<sip:127.0.0.2:5060;lr;received=sip:<ip>:<port>%3Btransport%3Dtcp>`), as `proto:ip:port`.
 */
export function receivedFromPath(pathUris: readonly Uri[]): string | undefined {
  for (const u of pathUris) {
    if (!u.isSip) continue;
    const r = u.param('received');
    if (typeof r !== 'string' || r.length === 0) continue;
    try {
      const s = uriAddressString(parseUri(unescapeUri(r)));
      if (s) return s;
    } catch {
      // a malformed received parameter is ignored
    }
  }
  return undefined;
}

/** Our listener, and the ports of the other workers of this proxy on the same address (docs/workers.md). */
export interface OwnAddress {
  address: string;
  port: number;
  /** every worker's port (ours included); a Route naming any of them is ours */
  ports?: readonly number[];
}

/** Is `uri` one of our own addresses (host:port of a listener, or of a sibling worker)? */
export function isOwnUri(uri: Uri, self: OwnAddress): boolean {
  if (!uri.isSip) return false;
  const port = uri.port ?? (uri.scheme === 'sips' || uri.transport === 'tls' ? 5061 : 5060);
  if (uri.hostname !== self.address.toLowerCase()) return false;
  return port === self.port || (self.ports?.includes(port) ?? false);
}
