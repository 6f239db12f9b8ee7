/**
 * DTMF as RFC 4733 telephone-events in the RTP stream: the 4-byte payload (§2.3: event,
 * E bit, volume, duration) and a detector that reports each digit once. An event is sent
 * as several packets of one RTP timestamp (the event's start), the last ones — the end
 * packet, retransmitted, usually three times (§2.5.1.4) — with E set; the digit is
 * reported on the first end packet of a timestamp and the others are dropped.
 * `telephoneEventPackets` makes the packets of one digit as a phone sends them (the tests of
 * the app-server and the e2e suite send DTMF with it).
 */
import { rtpPacket } from './rtp.js';

/** Events 0–15: the digits, `*`, `#`, A–D (§3.2, Table 3). */
export const DTMF_EVENTS = '0123456789*#ABCD';

export interface TelephoneEvent {
  event: number;
  end: boolean;
  /** dBm0 below 0, 0–63 */
  volume: number;
  /** timestamp units (1/8000 s) since the event's start */
  duration: number;
}

/** The payload of one telephone-event packet; null when shorter than 4 bytes. */
export function parseTelephoneEvent(payload: Buffer): TelephoneEvent | null {
  if (payload.length < 4) return null;
  return { event: payload[0]!, end: (payload[1]! & 0x80) !== 0, volume: payload[1]! & 0x3f, duration: payload.readUInt16BE(2) };
}

/** The payload of a telephone-event packet (tests, and anyone sending DTMF). */
export function telephoneEventPayload(e: TelephoneEvent): Buffer {
  const out = Buffer.alloc(4);
  out[0] = e.event;
  out[1] = (e.end ? 0x80 : 0) | (e.volume & 0x3f);
  out.writeUInt16BE(e.duration & 0xffff, 2);
  return out;
}

/** Reports a digit once per event: on its first end packet, keyed by the RTP timestamp. */
export class DtmfDetector {
  /** The timestamps of the last events reported (the end packets of one event share it). */
  private readonly seen: number[] = [];

  constructor(private readonly onDigit: (digit: string) => void) {}

  /** One telephone-event packet: its RTP timestamp and payload; returns the digit reported, if any. */
  push(timestamp: number, payload: Buffer): string | null {
    const e = parseTelephoneEvent(payload);
    if (!e || !e.end || e.event >= DTMF_EVENTS.length) return null;
    if (this.seen.includes(timestamp)) return null;
    this.seen.push(timestamp);
    if (this.seen.length > 8) this.seen.shift();
    const digit = DTMF_EVENTS[e.event]!;
    this.onDigit(digit);
    return digit;
  }
}

/** Where a digit's packets go in the sender's RTP stream. */
export interface EventStream {
  /** the telephone-event payload type the SDP named */
  payloadType: number;
  ssrc: number;
  /** the sequence number of the first packet (the others follow, mod 2^16) */
  sequence: number;
  /** the event's RTP timestamp (its start): every packet of the event carries it */
  timestamp: number;
}

/**
 * The RTP packets of one digit (`0`–`9`, `*`, `#`, `A`–`D`) as a phone sends them (RFC 4733
 * §2.5): the first with the marker bit, three packets 20 ms apart while the key is down (the
 * duration growing by 160), then the end packet three times (§2.5.1.4), 80 ms long. Send them
 * 20 ms apart; the next packet of the stream takes sequence + 6, the next audio timestamp + 960.
 */
export function telephoneEventPackets(digit: string, s: EventStream, volume = 10): Buffer[] {
  const event = DTMF_EVENTS.indexOf(digit.toUpperCase());
  if (digit.length !== 1 || event < 0) throw new Error(`not a DTMF digit: ${JSON.stringify(digit)}`);
  return Array.from({ length: 6 }, (_, i) => rtpPacket(
    { payloadType: s.payloadType, sequence: (s.sequence + i) & 0xffff, timestamp: s.timestamp, ssrc: s.ssrc, marker: i === 0 },
    telephoneEventPayload({ event, end: i >= 3, volume, duration: 160 * Math.min(i + 1, 4) }),
  ));
}
