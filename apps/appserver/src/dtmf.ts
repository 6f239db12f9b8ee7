/**
 * DTMF as RFC 4733 telephone-events in the RTP stream: the 4-byte payload (§2.3: event,
 * E bit, volume, duration) and a detector that reports each digit once. An event is sent
 * as several packets of one RTP timestamp (the event's start), the last ones — the end
 * packet, retransmitted, usually three times (§2.5.1.4) — with E set; the digit is
 * reported on the first end packet of a timestamp and the others are dropped.
 */

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
