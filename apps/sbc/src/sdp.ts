/**
 * Codec filter (pure): the payload types of denied codecs removed from an SDP body
 * (RFC 4566 / RFC 3264), parsed and written with sdp-transform. A format is denied by its
 * encoding name: the `a=rtpmap` one, or for a static payload type without rtpmap its
 * RFC 3551 name. Only RTP media sections (`RTP/AVP`, `RTP/SAVP`, ...) with a port are
 * touched; one left without formats is rejected (port 0, its formats kept as placeholders
 * without their attributes — an m= line needs one, RFC 3264 §6).
 */
import { parse, write, type MediaDescription } from 'sdp-transform';

/** RFC 3551 §6 static payload types (what `m=audio 4000 RTP/AVP 8` means without an rtpmap). */
const STATIC_PT: Readonly<Record<number, string>> = {
  0: 'PCMU', 3: 'GSM', 4: 'G723', 5: 'DVI4', 6: 'DVI4', 7: 'LPC', 8: 'PCMA', 9: 'G722', 10: 'L16', 11: 'L16',
  12: 'QCELP', 13: 'CN', 14: 'MPA', 15: 'G728', 16: 'DVI4', 17: 'DVI4', 18: 'G729', 25: 'CELB', 26: 'JPEG',
  28: 'NV', 31: 'H261', 32: 'MPV', 33: 'MP2T', 34: 'H263',
};

export interface SdpFilterResult {
  /** the body to send (unchanged bytes when nothing was removed) */
  body: Buffer;
  /** formats removed (`PCMA/8`: name/payload type) */
  removed: string[];
  /** false: the body had RTP media with a port and now none of them has a format left */
  usable: boolean;
}

/** Whether a Content-Type is SDP (parameters and case ignored). */
export function isSdp(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]!.trim().toLowerCase() === 'application/sdp';
}

function encodingOf(m: MediaDescription, pt: string): string | undefined {
  const map = m.rtp.find((r) => String(r.payload) === pt);
  if (map) return map.codec.toUpperCase();
  const n = Number(pt);
  return Number.isInteger(n) ? STATIC_PT[n] : undefined;
}

/**
 * `body` with the formats of `deny` (upper-case encoding names) removed; null when there
 * is nothing to do (an empty deny list, no body) or the body is no SDP sdp-transform reads
 * (no `v=` line or no media): such a body is passed as it is.
 */
export function filterCodecs(body: Buffer, deny: ReadonlySet<string>): SdpFilterResult | null {
  if (deny.size === 0 || body.length === 0) return null;
  const text = body.toString('utf8');
  if (!/^v=/.test(text)) return null;
  let session: ReturnType<typeof parse>;
  try {
    session = parse(text);
  } catch {
    return null;
  }
  if (!Array.isArray(session.media) || session.media.length === 0) return null;
  const removed: string[] = [];
  let rtpLive = 0;
  let rtpKept = 0;
  for (const m of session.media) {
    if (!/RTP/i.test(m.protocol ?? '') || m.port === 0 || m.payloads === undefined) continue;
    rtpLive++;
    const formats = String(m.payloads).split(/\s+/).filter(Boolean);
    const denied = new Set(formats.filter((pt) => deny.has(encodingOf(m, pt) ?? '')));
    if (denied.size === 0) {
      rtpKept++;
      continue;
    }
    for (const pt of denied) removed.push(`${encodingOf(m, pt)}/${pt}`);
    const keep = formats.filter((pt) => !denied.has(pt));
    const gone = (pt: number | string): boolean => denied.has(String(pt)) || (keep.length === 0 && formats.includes(String(pt)));
    if (keep.length > 0) {
      rtpKept++;
      m.payloads = keep.join(' ');
    } else {
      m.port = 0; // rejected; the formats stay on the m= line only
    }
    m.rtp = m.rtp.filter((r) => !gone(r.payload));
    m.fmtp = m.fmtp.filter((f) => !gone(f.payload));
    if (m.rtcpFb) m.rtcpFb = m.rtcpFb.filter((f) => f.payload === '*' || !gone(f.payload));
    if (m.rtcpFbTrrInt) m.rtcpFbTrrInt = m.rtcpFbTrrInt.filter((f) => f.payload === '*' || !gone(f.payload));
  }
  if (removed.length === 0) return { body, removed, usable: true };
  return { body: Buffer.from(write(session)), removed, usable: rtpLive === 0 || rtpKept > 0 };
}
