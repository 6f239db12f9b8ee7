/**
 * Far-end NAT helpers (pure): the Contact `alias` parameter (Kamailio's
 * `add_contact_alias` / `handle_ruri_alias`: `alias=<ip>~<port>~<t>`, t = 1 udp, 2 tcp,
 * 3 tls) and the RFC 3327 Path entry carrying `received` (the address and transport a
 * REGISTER really came from, URI-escaped). See docs/calls.md.
 */
import { isIP } from 'node:net';
import type { NameAddr, SipRequest, SipUri } from '@ngcp/sip';
import { parseUri, unescapeUri } from '@ngcp/sip';

export type ClientTransport = 'udp' | 'tcp' | 'tls';

/** Where a client really is: the source address of what it sent, and the transport. */
export interface ClientAddress {
  transport: ClientTransport;
  address: string;
  port: number;
}

const T_CODE: Record<ClientTransport, string> = { udp: '1', tcp: '2', tls: '3' };
const CODE_T: Record<string, ClientTransport> = { '1': 'udp', '2': 'tcp', '3': 'tls' };

function uriHost(address: string): string {
  return isIP(address) === 6 ? `[${address}]` : address;
}

/** `alias` parameter value: `ip~port~t`. */
export function encodeAlias(a: ClientAddress): string {
  return `${uriHost(a.address)}~${a.port}~${T_CODE[a.transport]}`;
}

/** Decode an `alias` value; null when it is not one of ours (wrong shape, not an IP, bad port or transport). */
export function decodeAlias(value: string | null | undefined): ClientAddress | null {
  if (typeof value !== 'string') return null;
  const parts = value.split('~');
  if (parts.length !== 3) return null;
  const [host, p, t] = parts as [string, string, string];
  const address = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  const port = Number(p);
  const transport = CODE_T[t];
  if (isIP(address) === 0 || !/^\d{1,5}$/.test(p) || port < 1 || port > 65535 || transport === undefined) return null;
  return { transport, address, port };
}

/** Add (or replace) `alias` on a Contact's URI; false for a non-SIP URI. */
export function addContactAlias(contact: NameAddr, source: ClientAddress): boolean {
  const uri = contact.uri;
  if (!uri.isSip) return false;
  uri.setParam('alias', encodeAlias(source));
  contact.angle = true;
  return true;
}

/** Take `alias` off a Request-URI: the address it names (null when there is none or it is not ours), the parameter removed either way. */
export function takeUriAlias(uri: SipUri): ClientAddress | null {
  if (!uri.hasParam('alias')) return null;
  const a = decodeAlias(uri.param('alias'));
  uri.removeParam('alias');
  return a;
}

/**
 * RFC 3327 Path for a REGISTER: the lb's internal address with `received` = the address
 * and transport the REGISTER came from (`transport` left out for UDP), URI-escaped:
 * `<sip:127.0.0.2:5060;lr;received=sip:198.51.100.7:5060%3Btransport%3Dtcp>`.
 */
export function buildPath(internal: { address: string; port: number }, source: ClientAddress, ob = false): string {
  const t = source.transport === 'udp' ? '' : `%3Btransport%3D${source.transport}`;
  return `<sip:${uriHost(internal.address)}:${internal.port};lr${ob ? ';ob' : ''};received=sip:${uriHost(source.address)}:${source.port}${t}>`;
}

/**
 * RFC 5626 §5.1: the edge proxy marks its Path entry `ob` when the UA asks for outbound
 * (`Supported: outbound` and a Contact with `reg-id`): it is the first hop of that flow, and
 * the registrar may then answer with `Require: outbound` and a `Flow-Timer`.
 */
export function wantsOutbound(req: SipRequest): boolean {
  if (!req.optionTags('supported').includes('outbound')) return false;
  const contacts = req.contacts();
  return contacts !== '*' && contacts.some((c) => typeof c.param('reg-id') === 'string');
}

/** Decode a Route/Path entry's `received` (`sip:ip:port;transport=t`, possibly escaped) into an address; null when absent or unusable. */
export function decodeReceived(value: string | null | undefined): ClientAddress | null {
  if (typeof value !== 'string' || value.length === 0) return null;
  let uri;
  try {
    uri = parseUri(unescapeUri(value));
  } catch {
    return null;
  }
  if (!uri.isSip) return null;
  const address = uri.hostname;
  if (isIP(address) === 0) return null;
  const t = uri.transport ?? (uri.scheme === 'sips' ? 'tls' : 'udp');
  if (t !== 'udp' && t !== 'tcp' && t !== 'tls') return null;
  return { transport: t, address, port: uri.port ?? (t === 'tls' ? 5061 : 5060) };
}
