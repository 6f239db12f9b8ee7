/**
 * SDP offer/answer (RFC 3264) for an app-server call: one audio stream, PCMU or PCMA (the
 * first of the two the other side lists), our RTP socket as its address; voicemail calls
 * also take RFC 4733 `telephone-event/8000` when it is offered (the DTMF of the menu). The
 * other side is rtpengine (the proxy relays the call's media), so its SDP is plain RTP/AVP.
 */
import { isIP } from 'node:net';
import { parse } from 'sdp-transform';
import { PAYLOAD_TYPE, type G711Codec } from './g711.js';

export type Direction = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

/** What we take from the other side's SDP. */
export interface RemoteMedia {
  /** Where our RTP goes. */
  address: string;
  port: number;
  codec: G711Codec;
  payloadType: number;
  /** The payload type of `telephone-event/8000` in the same m-line (RFC 4733 §7.1.1), null when not offered. */
  dtmfPayloadType: number | null;
  /** The other side's direction (RFC 3264 §5.1; default sendrecv). */
  direction: Direction;
  /** Index of the audio m-line among all m-lines (the answer keeps their order, §6). */
  index: number;
  /** All m-lines: type, protocol and first format (what an answer rejects with port 0). */
  lines: Array<{ type: string; protocol: string; format: string }>;
}

export type SdpResult = { ok: true; media: RemoteMedia } | { ok: false; reason: string };

const STATIC: Readonly<Record<number, G711Codec>> = { 0: 'PCMU', 8: 'PCMA' };
const DIRECTIONS = new Set<string>(['sendrecv', 'sendonly', 'recvonly', 'inactive']);

/**
 * The stream and codec of an SDP (an offer, or the answer to our offer): the first audio
 * m-line with a port, and in it the first payload type that is PCMU or PCMA at 8000 Hz
 * (by its rtpmap, or the static type 0 / 8 without one). `accept` limits the codecs (an
 * answer may only use what we offered).
 */
export function readRemote(body: Buffer | string, accept: ReadonlySet<G711Codec> = new Set(['PCMU', 'PCMA'])): SdpResult {
  let sdp: ReturnType<typeof parse>;
  try {
    sdp = parse(body.toString());
  } catch (err) {
    return { ok: false, reason: `SDP does not parse: ${(err as Error).message}` };
  }
  const media = sdp.media ?? [];
  if (media.length === 0) return { ok: false, reason: 'SDP has no m-line' };
  const lines = media.map((m) => ({ type: String(m.type), protocol: String(m.protocol), format: String(m.payloads ?? '').split(' ')[0] || '0' }));
  for (const [index, m] of media.entries()) {
    if (m.type !== 'audio' || !(m.port > 0) || !/^RTP\/S?AVP$/.test(String(m.protocol))) continue;
    const address = m.connection?.ip ?? sdp.connection?.ip;
    if (!address) return { ok: false, reason: 'audio stream without a connection address (c=)' };
    const rtpmap = new Map((m.rtp ?? []).map((r) => [r.payload, r]));
    const te = (m.rtp ?? []).find((r) => r.codec.toLowerCase() === 'telephone-event' && (r.rate === undefined || r.rate === 8000));
    const dtmfPayloadType = te ? te.payload : null;
    for (const pt of String(m.payloads ?? '').split(' ').filter(Boolean).map(Number)) {
      const map = rtpmap.get(pt);
      const name = map ? map.codec.toUpperCase() : STATIC[pt];
      if ((name === 'PCMU' || name === 'PCMA') && accept.has(name) && (!map || map.rate === undefined || map.rate === 8000)) {
        const dir = String(m.direction ?? sdp.direction ?? 'sendrecv');
        return { ok: true, media: { address, port: m.port, codec: name, payloadType: pt, dtmfPayloadType, direction: DIRECTIONS.has(dir) ? (dir as Direction) : 'sendrecv', index, lines } };
      }
    }
    return { ok: false, reason: 'audio stream offers neither PCMU nor PCMA' };
  }
  return { ok: false, reason: 'SDP has no audio stream with a port' };
}

/** Our direction answering theirs (RFC 3264 §6.1). */
export function answerDirection(theirs: Direction): Direction {
  return theirs === 'sendonly' ? 'recvonly' : theirs === 'recvonly' ? 'sendonly' : theirs;
}

/** Whether RTP goes out: our direction includes sending and the other side has a real address (0.0.0.0 is the RFC 2543 hold). */
export function sends(ours: Direction, remote: { address: string }): boolean {
  return (ours === 'sendrecv' || ours === 'sendonly') && remote.address !== '0.0.0.0' && remote.address !== '::';
}

export interface Local {
  address: string;
  port: number;
  /** o= session id and version (RFC 4566 §5.2). */
  sessionId: string;
}

function head(l: Local): string[] {
  const net = isIP(l.address) === 6 ? 'IP6' : 'IP4';
  return ['v=0', `o=ngcp-appserver ${l.sessionId} 1 IN ${net} ${l.address}`, 's=announcement', `c=IN ${net} ${l.address}`, 't=0 0'];
}

/** The RFC 4733 lines of a payload type: the 16 DTMF events (§3.2, `0-15`). */
const dtmfLines = (pt: number): string[] => [`a=rtpmap:${pt} telephone-event/8000`, `a=fmtp:${pt} 0-15`];

/** The payload type our late offer gives telephone-event (a dynamic one, RFC 3551 §3). */
export const OFFER_DTMF_PAYLOAD_TYPE = 101;

/**
 * The answer to `remote`'s offer: its audio stream with our port and its payload type of the
 * chosen codec (with `dtmf`, also its telephone-event payload type when it offered one),
 * every other m-line rejected (port 0).
 */
export function answerSdp(local: Local, remote: RemoteMedia, o: { dtmf?: boolean } = {}): string {
  const out = head(local);
  for (const [i, line] of remote.lines.entries()) {
    if (i !== remote.index) {
      out.push(`m=${line.type} 0 ${line.protocol} ${line.format}`);
      continue;
    }
    const te = o.dtmf ? remote.dtmfPayloadType : null;
    out.push(`m=audio ${local.port} RTP/AVP ${remote.payloadType}${te === null ? '' : ` ${te}`}`, `a=rtpmap:${remote.payloadType} ${remote.codec}/8000`);
    if (te !== null) out.push(...dtmfLines(te));
    out.push('a=ptime:20', `a=${answerDirection(remote.direction)}`);
  }
  return `${out.join('\r\n')}\r\n`;
}

/** Our offer (an INVITE without SDP: the 200 offers, the ACK answers, RFC 3261 §13.2.1): PCMU and PCMA, with `dtmf` also telephone-event. */
export function offerSdp(local: Local, o: { dtmf?: boolean } = {}): string {
  const out = head(local);
  const te = o.dtmf ? ` ${OFFER_DTMF_PAYLOAD_TYPE}` : '';
  out.push(`m=audio ${local.port} RTP/AVP ${PAYLOAD_TYPE.PCMU} ${PAYLOAD_TYPE.PCMA}${te}`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:8 PCMA/8000');
  if (o.dtmf) out.push(...dtmfLines(OFFER_DTMF_PAYLOAD_TYPE));
  out.push('a=ptime:20', 'a=sendrecv');
  return `${out.join('\r\n')}\r\n`;
}
