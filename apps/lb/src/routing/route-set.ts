/**
 * Route-set handling of the lb (RFC 3261 §16.4, §16.6, §16.12; RFC 5658 double
 * Record-Route), pure: which URIs are the lb's own (host:port of one of its listeners),
 * popping its own Route entries, and the two Record-Route entries it inserts.
 */
import { isIP } from 'node:net';
import type { SipRequest, SipUri, Uri } from '@ngcp/sip';
import { normalizeAddress, parseNameAddr } from '@ngcp/sip';
import type { ClientTransport } from './nat.js';

export interface Listener {
  transport: ClientTransport;
  address: string;
  port: number;
}

/** The lb's own addresses: every listener, public and internal. */
export class OwnAddresses {
  private readonly hostPorts = new Set<string>();
  private readonly hosts = new Set<string>();

  constructor(listeners: readonly Listener[]) {
    for (const l of listeners) {
      const a = normalizeAddress(l.address);
      this.hostPorts.add(`${a}|${l.port}`);
      this.hosts.add(a);
    }
  }

  /** A host (any port) the lb listens on: requests to it count as served (`sip:127.0.0.1`). */
  isOwnHost(host: string): boolean {
    return this.hosts.has(normalizeAddress(host));
  }

  /** host:port of a listener (port defaulted per RFC 3261 §19.1.2). */
  isOwn(host: string, port: number): boolean {
    return this.hostPorts.has(`${normalizeAddress(host)}|${port}`);
  }

  /** A SIP URI naming one of the listeners. */
  isOwnUri(uri: Uri): boolean {
    if (!uri.isSip) return false;
    return this.isOwn(uri.hostname, uriPort(uri));
  }
}

export function uriPort(uri: SipUri): number {
  if (uri.port !== null) return uri.port;
  return uri.scheme === 'sips' || uri.transport === 'tls' ? 5061 : 5060;
}

/**
 * Pop every top Route entry that is the lb's own (§16.4: "If the first value in the
 * Route header field indicates this proxy, the proxy MUST remove that value"). Returns
 * the popped URIs (their parameters, e.g. `received`, matter). Throws SipParseError on a
 * malformed Route (the caller answers 400).
 */
export function popOwnRoutes(req: SipRequest, own: OwnAddresses): SipUri[] {
  const popped: SipUri[] = [];
  for (;;) {
    const first = req.elements('route')[0];
    if (first === undefined) return popped;
    const na = parseNameAddr(first, 'route');
    if (!own.isOwnUri(na.uri)) return popped;
    req.removeFirstElement('route');
    popped.push(na.uri as SipUri);
  }
}

/** The URI of the first Route entry, if any (after the lb's own were popped). */
export function nextRoute(req: SipRequest): Uri | undefined {
  const first = req.elements('route')[0];
  return first === undefined ? undefined : parseNameAddr(first, 'route').uri;
}

/** Methods whose initial request (no To-tag) creates a dialog the lb stays in. */
const DIALOG_CREATING = new Set(['INVITE', 'SUBSCRIBE', 'REFER', 'NOTIFY']);

export function isDialogCreating(req: SipRequest): boolean {
  return DIALOG_CREATING.has(req.method) && req.to().tag === undefined;
}

function rrUri(l: Listener): string {
  const host = isIP(l.address) === 6 ? `[${l.address}]` : l.address;
  const t = l.transport === 'udp' ? '' : `;transport=${l.transport}`;
  return `<sip:${host}:${l.port}${t};lr;r2=on>`;
}

/**
 * Double Record-Route (RFC 5658): the entry facing the next hop on top, the entry
 * facing where the request came from below it; both inserted above any existing ones:
 * `Record-Route: <sip:127.0.0.2:5060;lr;r2=on>, <sip:127.0.0.1:5060;transport=tcp;lr;r2=on>`.
 */
export function addDoubleRecordRoute(req: SipRequest, towardsNextHop: Listener, towardsPreviousHop: Listener): void {
  req.prepend('Record-Route', `${rrUri(towardsNextHop)}, ${rrUri(towardsPreviousHop)}`);
}
