import { readFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { DnsError } from './dns-error.js';

/** A DNS server endpoint. `host` is always a numeric IPv4/IPv6 address. */
export interface DnsServer {
  host: string;
  port: number;
  family: 4 | 6;
}

export interface ResolvConf {
  servers: DnsServer[];
  /** `options timeout:n` (seconds), if present. */
  timeoutSeconds?: number;
  /** `options attempts:n`, if present. */
  attempts?: number;
}

/**
 * Parse a server spec: `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`.
 * Host names are rejected: a stub resolver cannot resolve its own servers.
 */
export function parseServer(spec: string, defaultPort = 53): DnsServer {
  const s = spec.trim();
  let host = s;
  let port = defaultPort;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  if (bracketed) {
    host = bracketed[1] ?? '';
    if (bracketed[2] !== undefined) port = Number(bracketed[2]);
  } else if (s.split(':').length === 2) {
    // exactly one colon: IPv4 (or name) with port; bare IPv6 has several colons
    const [h, p] = s.split(':');
    host = h ?? '';
    port = Number(p);
  }
  const family = isIP(host);
  if (family !== 4 && family !== 6) {
    throw new DnsError('BADCONFIG', `DNS server must be a numeric address: ${JSON.stringify(spec)}`);
  }
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new DnsError('BADCONFIG', `bad DNS server port in ${JSON.stringify(spec)}`);
  }
  return { host, port, family };
}

export function formatServer(s: DnsServer): string {
  return s.family === 6 ? `[${s.host}]:${s.port}` : `${s.host}:${s.port}`;
}

/**
 * Parse resolv.conf(5) text: `nameserver` lines (invalid ones skipped, as the C
 * library does) and the `timeout:`/`attempts:` options. `search`/`ndots` are
 * deliberately ignored — SIP host names are always treated as fully qualified.
 */
export function parseResolvConf(text: string): ResolvConf {
  const out: ResolvConf = { servers: [] };
  for (const raw of text.split('\n')) {
    const line = raw.replace(/[#;].*$/, '').trim();
    const [key, ...rest] = line.split(/\s+/);
    if (key === 'nameserver' && rest[0] !== undefined) {
      try {
        out.servers.push(parseServer(rest[0]));
      } catch {
        /* skip unusable line */
      }
    } else if (key === 'options') {
      for (const opt of rest) {
        const m = /^(timeout|attempts):(\d+)$/.exec(opt);
        if (!m) continue;
        if (m[1] === 'timeout') out.timeoutSeconds = Number(m[2]);
        else out.attempts = Number(m[2]);
      }
    }
  }
  return out;
}

/**
 * Read and parse a resolv.conf. A missing file or one without nameservers yields
 * the C library default, 127.0.0.1:53.
 */
export async function loadResolvConf(path = '/etc/resolv.conf'): Promise<ResolvConf> {
  let text = '';
  try {
    text = await readFile(path, 'utf8');
  } catch {
    /* fall through to default */
  }
  const conf = parseResolvConf(text);
  if (conf.servers.length === 0) conf.servers.push({ host: '127.0.0.1', port: 53, family: 4 });
  return conf;
}
