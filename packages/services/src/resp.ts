/**
 * One Redis command over one short connection, with the reply fully parsed (simple
 * string, error, integer, bulk string, array). For the few administrative commands of
 * replication (ROLE, INFO, REPLICAOF); the daemons use ioredis.
 */
import { connect } from 'node:net';

export type RespValue = string | number | null | RespValue[];

export class RedisReplyError extends Error {
  readonly code = 'REDIS_REPLY_ERROR';
}

/** Parses one reply at `pos`; undefined when the buffer does not hold all of it yet. */
export function parseResp(buf: Buffer, pos = 0): { value: RespValue | RedisReplyError; end: number } | undefined {
  const eol = buf.indexOf('\r\n', pos);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[pos]!);
  const line = buf.toString('utf8', pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case '+':
      return { value: line, end: next };
    case '-':
      return { value: new RedisReplyError(line), end: next };
    case ':':
      return { value: Number(line), end: next };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      if (buf.length < next + n + 2) return undefined;
      return { value: buf.toString('utf8', next, next + n), end: next + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: next };
      const out: RespValue[] = [];
      let p = next;
      for (let i = 0; i < n; i++) {
        const r = parseResp(buf, p);
        if (!r) return undefined;
        if (r.value instanceof RedisReplyError) return { value: r.value, end: r.end };
        out.push(r.value);
        p = r.end;
      }
      return { value: out, end: p };
    }
    default:
      return { value: new RedisReplyError(`unexpected reply type ${JSON.stringify(type)}`), end: buf.length };
  }
}

export interface RedisTarget {
  host: string;
  port: number;
  password?: string | undefined;
}

/**
 * Sends AUTH (when a password is given) and `command`; resolves with the command's
 * reply, rejects with RedisReplyError for an error reply (AUTH's included), or a socket
 * error / timeout.
 */
export function redisCommand(t: RedisTarget, command: string[], timeoutMs = 3000): Promise<RespValue> {
  const cmds = t.password !== undefined ? [['AUTH', t.password], command] : [command];
  return new Promise((resolve, reject) => {
    const sock = connect({ host: t.host, port: t.port });
    let buf = Buffer.alloc(0);
    const replies: (RespValue | RedisReplyError)[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`redis ${t.host}:${t.port}: no reply to ${command[0]} within ${timeoutMs} ms`));
    }, timeoutMs);
    const done = (err: Error | null, v?: RespValue): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(v ?? null);
    };
    sock.on('error', (e) => done(e));
    sock.on('connect', () => {
      for (const c of cmds) sock.write(`*${c.length}\r\n` + c.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join(''));
    });
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const r = parseResp(buf);
        if (!r) break;
        replies.push(r.value);
        buf = buf.subarray(r.end);
      }
      if (replies.length >= cmds.length) {
        const err = replies.find((x): x is RedisReplyError => x instanceof RedisReplyError);
        if (err) return done(err);
        done(null, replies[cmds.length - 1] as RespValue);
      }
    });
  });
}

/** `INFO section` as key → value. */
export async function redisInfo(t: RedisTarget, section: string): Promise<Record<string, string>> {
  const text = String(await redisCommand(t, ['INFO', section]));
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}
