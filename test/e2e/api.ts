/**
 * The node's REST API as a user reaches it: HTTPS with the node's self-signed
 * certificate (var/api/tls/cert.pem, trusted explicitly — never `rejectUnauthorized:
 * false`), basic auth with the credentials `ngcp up` wrote to var/api.env.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join } from 'node:path';
import { until } from '@ngcp/cli/testing';

export interface ApiResponse<T = unknown> {
  status: number;
  body: T;
}

export interface ListPage<T> {
  total_count: number;
  items: T[];
}

export interface RegistrationContact {
  contact: string;
  expires_in: number;
  q: number | null;
  received: string | null;
  path: string[];
  user_agent: string | null;
}
export interface Registration {
  id: string;
  aor: string;
  username: string;
  domain: string;
  subscriber_id: number | null;
  contacts: RegistrationContact[];
}
export interface ActiveCall {
  id: string;
  call_id: string;
  /** through the sbc: the caller's (A leg's) Call-ID */
  caller_call_id: string | null;
  caller: string;
  callee: string;
  state: string;
  caller_subscriber_id: number | null;
  callee_subscriber_id: number | null;
}
/** A CDR as GET /api/cdrs gives it (the mediator's, apps/mediator/README.md). */
export interface Cdr {
  call_id: string;
  call_type: string;
  call_status: string;
  call_code: string;
  duration: number;
  init_time: string;
  start_time: string | null;
  source_subscriber_id: number | null;
  source_user: string;
  source_cli: string;
  destination_subscriber_id: number | null;
  destination_user: string;
  destination_domain: string;
  destination_user_in: string;
}
export interface Subscriber {
  id: number;
  domain: string;
  username: string;
  primary_number: string | null;
}

export class ApiClient {
  constructor(
    readonly url: URL,
    private readonly auth: string,
    private readonly ca: Buffer,
  ) {}

  /** From the node root: var/api.env (API_URL, API_USER, API_PASS) and the API's certificate. */
  static fromNode(root: string): ApiClient {
    const env = Object.fromEntries(
      readFileSync(join(root, 'var/api.env'), 'utf8').split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    ) as Record<string, string>;
    if (!env.API_URL || !env.API_USER || !env.API_PASS) throw new Error(`${root}/var/api.env lacks API_URL/API_USER/API_PASS`);
    return new ApiClient(new URL(env.API_URL), `${env.API_USER}:${env.API_PASS}`, readFileSync(join(root, 'var/api/tls/cert.pem')));
  }

  request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.url),
        {
          method,
          ca: this.ca,
          auth: this.auth,
          headers: { accept: 'application/json', ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) },
          timeout: 20_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            let parsed: unknown = text;
            try {
              parsed = text ? JSON.parse(text) : undefined;
            } catch {
              // not JSON: keep the text
            }
            resolve({ status: res.statusCode ?? 0, body: parsed as T });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  /** A 2xx body, or an error naming the status and the API's answer. */
  async ok<T>(method: string, path: string, body?: unknown): Promise<T> {
    const r = await this.request<T>(method, path, body);
    if (r.status < 200 || r.status > 299) throw new Error(`${method} ${path} → ${r.status}: ${JSON.stringify(r.body)}`);
    return r.body;
  }

  createDomain(domain: string): Promise<{ id: number; domain: string }> {
    return this.ok('POST', '/api/domains', { domain });
  }

  createSubscriber(s: { domain: string; username: string; password: string; primary_number?: string }): Promise<Subscriber> {
    return this.ok('POST', '/api/subscribers', s);
  }

  async registrations(): Promise<Registration[]> {
    return (await this.ok<ListPage<Registration>>('GET', '/api/registrations?rows=1000')).items;
  }

  async registration(aor: string): Promise<Registration | undefined> {
    return (await this.registrations()).find((r) => r.aor === aor);
  }

  /** The CDRs of a Call-ID (none until the mediator made one). */
  async cdrs(callId: string): Promise<Cdr[]> {
    return (await this.ok<ListPage<Cdr>>('GET', `/api/cdrs?call_id=${encodeURIComponent(callId)}`)).items;
  }

  /** The CDRs of a Call-ID once there is one (empty after `ms`). */
  async awaitCdrs(callId: string, ms = 20_000): Promise<Cdr[]> {
    return (await until(async () => ((await this.cdrs(callId)).length > 0 ? this.cdrs(callId) : undefined), ms, 250)) ?? [];
  }

  async calls(): Promise<ActiveCall[]> {
    return (await this.ok<ListPage<ActiveCall>>('GET', '/api/calls?rows=1000')).items;
  }
}
