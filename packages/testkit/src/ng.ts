/**
 * Minimal rtpengine "ng" control protocol client: bencode over UDP, `<cookie> <bencoded dict>`.
 * Enough for readiness checks and tests (ping, offer, answer, delete, query …).
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { randomSecret } from './util.js';

export type BValue = string | number | Buffer | BValue[] | { [key: string]: BValue | undefined };

export function bencode(value: BValue): Buffer {
  const parts: Buffer[] = [];
  const enc = (v: BValue): void => {
    if (typeof v === 'number') {
      if (!Number.isInteger(v)) throw new TypeError(`bencode: integers only, got ${v}`);
      parts.push(Buffer.from(`i${v}e`));
    } else if (typeof v === 'string' || Buffer.isBuffer(v)) {
      const b = typeof v === 'string' ? Buffer.from(v, 'utf8') : v;
      parts.push(Buffer.from(`${b.length}:`), b);
    } else if (Array.isArray(v)) {
      parts.push(Buffer.from('l'));
      for (const item of v) enc(item);
      parts.push(Buffer.from('e'));
    } else {
      parts.push(Buffer.from('d'));
      // keys must be sorted as raw byte strings
      const keys = Object.keys(v).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      for (const k of keys) {
        const item = v[k];
        if (item === undefined) continue;
        enc(k);
        enc(item);
      }
      parts.push(Buffer.from('e'));
    }
  };
  enc(value);
  return Buffer.concat(parts);
}

/** Decoded bencode: byte strings become (UTF-8) strings. */
export type BDecoded = string | number | BDecoded[] | { [key: string]: BDecoded };

export function bdecode(input: Buffer | string): BDecoded {
  const buf = typeof input === 'string' ? Buffer.from(input) : input;
  let pos = 0;
  const fail = (msg: string): never => {
    throw new Error(`bdecode: ${msg} at offset ${pos}`);
  };
  const dec = (): BDecoded => {
    const c = buf[pos];
    if (c === undefined) return fail('unexpected end');
    if (c === 0x69 /* i */) {
      const end = buf.indexOf(0x65, pos);
      if (end < 0) return fail('unterminated integer');
      const n = Number.parseInt(buf.toString('ascii', pos + 1, end), 10);
      pos = end + 1;
      return n;
    }
    if (c === 0x6c /* l */) {
      pos++;
      const out: BDecoded[] = [];
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) return fail('unterminated list');
        out.push(dec());
      }
      pos++;
      return out;
    }
    if (c === 0x64 /* d */) {
      pos++;
      const out: { [key: string]: BDecoded } = {};
      while (buf[pos] !== 0x65) {
        if (pos >= buf.length) return fail('unterminated dict');
        const k = dec();
        if (typeof k !== 'string') return fail('dict key is not a string');
        out[k] = dec();
      }
      pos++;
      return out;
    }
    if (c >= 0x30 && c <= 0x39) {
      const colon = buf.indexOf(0x3a, pos);
      if (colon < 0) return fail('bad string length');
      const len = Number.parseInt(buf.toString('ascii', pos, colon), 10);
      const start = colon + 1;
      if (start + len > buf.length) return fail('string runs past end');
      pos = start + len;
      return buf.toString('utf8', start, start + len);
    }
    return fail(`unexpected byte 0x${c.toString(16)}`);
  };
  const v = dec();
  if (pos !== buf.length) fail('trailing data');
  return v;
}

export interface NgRequestOptions {
  /** Give up after this long (default 2000 ms). */
  timeoutMs?: number;
  /** Retransmit the (same-cookie) request at this interval until a reply (default 200 ms). */
  retransmitMs?: number;
}

/**
 * Send one ng command and return the decoded reply dict, e.g.
 * `await ngRequest('127.0.0.1', port, { command: 'ping' })` → `{ result: 'pong' }`.
 */
export function ngRequest(
  host: string,
  port: number,
  message: { command: string; [key: string]: BValue | undefined },
  opts: NgRequestOptions = {},
): Promise<{ [key: string]: BDecoded }> {
  const cookie = randomSecret(12);
  const packet = Buffer.concat([Buffer.from(`${cookie} `), bencode(message)]);
  const timeoutMs = opts.timeoutMs ?? 2000;
  const retransmitMs = opts.retransmitMs ?? 200;
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    let done = false;
    const finish = (err: Error | null, value?: { [key: string]: BDecoded }): void => {
      if (done) return;
      done = true;
      clearInterval(resend);
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(value ?? {});
    };
    const send = (): void => {
      sock.send(packet, port, host, (err) => {
        if (err) finish(err);
      });
    };
    sock.on('error', (err) => finish(err));
    sock.on('message', (msg) => {
      const space = msg.indexOf(0x20);
      if (space < 0 || msg.toString('utf8', 0, space) !== cookie) return;
      try {
        const reply = bdecode(msg.subarray(space + 1));
        if (typeof reply !== 'object' || Array.isArray(reply)) throw new Error('ng reply is not a dict');
        finish(null, reply);
      } catch (err) {
        finish(err as Error);
      }
    });
    const resend = setInterval(send, retransmitMs);
    const timer = setTimeout(
      () => finish(new Error(`ng '${message.command}' to ${host}:${port}: no reply within ${timeoutMs} ms`)),
      timeoutMs,
    );
    send();
  });
}
