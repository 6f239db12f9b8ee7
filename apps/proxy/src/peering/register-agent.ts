/**
 * The registration agent (docs/routing.md "Outbound registration to peers"): REGISTERs the
 * platform at every enabled peering server with `register_enable`, keeps the binding fresh
 * (at 80 % of the granted expiry), retries failures with a doubling backoff, and removes a
 * binding (Expires: 0) when its server is disabled, deleted, or gets other credentials or
 * another AoR/Contact. A singleton of the pair: it runs in worker 0 of the proxy of the
 * **active** node only (`setActive`, following hbd's `ha.role`) — two nodes registering one AoR
 * with two Call-IDs would leave two bindings at the carrier. Its state is in Redis
 * `peerreg:<server id>` before every REGISTER it sends, so the agent of the node that becomes
 * active refreshes the same binding: the same Call-ID, From tag, and the next CSeq.
 */
import type { Logger } from 'pino';
import { Counter, Gauge, type Registry } from 'prom-client';
import type { PeerRegistration } from '@ngcp/db';
import type { Destination, SipRequest, SipResponse, Target } from '@ngcp/sip';
import { newCallId, newTag } from '@ngcp/sip';
import { answerPeerChallenge } from './peer-auth.js';
import { peerHop } from './peer-request.js';
import { aorOf, backoffMs, bindingOf, buildRegister, contactOf, refreshDelayMs, registerVerdict, registrarUri, type ContactAddress, type RegisterVerdict } from './peer-register.js';
import type { PeerCredentials, PeerServer } from './selection.js';

/** A REGISTER's final response; `origin` other than network: a local 408 (timeout) or 503 (transport error). */
export interface RegisterFinal { res: SipResponse; origin: 'network' | 'timeout' | 'transport-error' }

export interface PeerRegStore {
  read(serverId: number): Promise<PeerRegistration | null>;
  write(serverId: number, r: PeerRegistration): Promise<void>;
  remove(serverId: number): Promise<void>;
}

export interface RegisterAgentOptions {
  send(req: SipRequest, dest: Destination): Promise<RegisterFinal>;
  store: PeerRegStore;
  targets(server: PeerServer): Promise<Target[]>;
  lb: { address: string; port: number } | null;
  /** our Via sent-by */
  self(): { address: string; port: number };
  /** the public address in the Contact (the lb's public listener) */
  contact(): ContactAddress;
  node: string;
  retryMinMs: number;
  retryMaxMs: number;
  logger: Logger;
  /** `peer_register_requests_total{result}` */
  requests?: Counter<'result'>;
}

export type RegistrationState = PeerRegistration['state'];

interface Entry {
  server: PeerServer;
  binding: string;
  /** the Expires to ask for (the configured one, or a 423's Min-Expires) */
  askedS: number;
  rec: PeerRegistration | null;
  timer: NodeJS.Timeout | null;
  /** operations of this server run one after the other */
  chain: Promise<void>;
  /** replaced or dropped: finish what runs, start nothing new */
  gone: boolean;
}

const sameAuth = (a: PeerCredentials | null, b: PeerCredentials | null): boolean =>
  a?.username === b?.username && a?.password === b?.password && a?.realm === b?.realm;

export class PeerRegisterAgent {
  private active = false;
  private servers: PeerServer[] = [];
  private entries = new Map<number, Entry>();
  private log: Logger;
  readonly stats = { sent: 0, registered: 0, failed: 0, unregistered: 0 };

  constructor(private readonly o: RegisterAgentOptions) {
    this.log = o.logger.child({ component: 'peer-register' });
  }

  get isActive(): boolean {
    return this.active;
  }

  /**
   * The node's role: active → register every server that wants it, at once (a takeover refreshes
   * the bindings the other node made, with their Call-IDs); standby → stop (the bindings stay:
   * the other node refreshes them).
   */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    this.log.info({ active }, active ? 'registration agent active' : 'registration agent stopped (standby)');
    if (active) return this.update(this.servers);
    for (const e of this.entries.values()) this.drop(e);
    this.entries.clear();
  }

  /** The peering table (re)loaded: follow its servers (enabled ones; `register` set or not). */
  update(servers: PeerServer[]): void {
    this.servers = servers;
    if (!this.active) return;
    const want = new Map(servers.filter((s) => s.register).map((s) => [s.id, s]));
    for (const [id, e] of this.entries) {
      const s = want.get(id);
      if (s && this.bindingFor(s) === e.binding && sameAuth(s.auth, e.server.auth)) {
        // the same binding: a new expiry applies from the next refresh
        if (s.register!.expires !== e.server.register!.expires) e.askedS = s.register!.expires;
        e.server = s;
        continue;
      }
      // disabled, deleted, or another binding/credentials: remove the old one (with the old credentials)
      this.entries.delete(id);
      this.drop(e);
      this.enqueue(e, () => this.unregister(e, s ? 'changed' : 'removed'));
      if (s) this.start(s, e.chain);
    }
    for (const s of want.values()) if (!this.entries.has(s.id)) this.start(s, Promise.resolve());
  }

  /** Stop timers; nothing is un-REGISTERed (a restart or the other node carries the bindings on). */
  stop(): void {
    this.active = false;
    for (const e of this.entries.values()) this.drop(e);
    this.entries.clear();
  }

  /** Each registration's state as this agent knows it (control `peering.registrations`, the gauge). */
  snapshot(): Array<{ id: number; name: string; state: RegistrationState; expires_at: number | null; last_code: number | null; call_id: string | null; cseq: number | null }> {
    return [...this.entries.values()].map((e) => ({
      id: e.server.id, name: e.server.name, state: e.rec?.state ?? 'registering', expires_at: e.rec?.expires_at ?? null,
      last_code: e.rec?.last_code ?? null, call_id: e.rec?.call_id ?? null, cseq: e.rec?.cseq ?? null,
    }));
  }

  /** Wait until every queued operation has run (tests, stop). */
  async idle(): Promise<void> {
    await Promise.all([...this.entries.values()].map((e) => e.chain));
  }

  private bindingFor(s: PeerServer): string {
    return bindingOf(s.register!, s, this.o.contact());
  }

  private drop(e: Entry): void {
    e.gone = true;
    if (e.timer) clearTimeout(e.timer);
    e.timer = null;
  }

  private start(s: PeerServer, after: Promise<void>): void {
    const e: Entry = { server: s, binding: this.bindingFor(s), askedS: s.register!.expires, rec: null, timer: null, chain: after, gone: false };
    this.entries.set(s.id, e);
    this.enqueue(e, async () => {
      const stored = await this.o.store.read(s.id).catch((err: Error) => {
        this.log.warn({ server: s.name, err: err.message }, 'peerreg state not read from redis; starting a new binding');
        return null;
      });
      if (stored && stored.binding === e.binding) {
        // the binding this or the other node made: carried on with its Call-ID and the next CSeq
        e.rec = stored;
      } else {
        if (stored && stored.state !== 'unregistered') {
          // a binding of another AoR/Contact/server (changed while no agent ran): removed first
          await this.unregister({ ...e, rec: stored, binding: stored.binding }, 'stale');
        }
        e.rec = {
          state: 'registering', call_id: newCallId(this.o.self().address), cseq: 0, from_tag: newTag(), binding: e.binding,
          aor: aorOf(s.register!), contact: contactOf(s.register!, s, this.o.contact()),
          expires_at: null, granted_s: null, last_code: null, last_reason: null, last_attempt_at: null, failures: 0, node: this.o.node,
        };
      }
      await this.register(e);
    });
  }

  /** Run `fn` after what this server's entry does now; a failure is logged and ends nothing else. */
  private enqueue(e: Entry, fn: () => Promise<void>): void {
    e.chain = e.chain.then(fn).catch((err: Error) => this.log.warn({ server: e.server.name, err: err.message }, 'registration step failed'));
  }

  private schedule(e: Entry, delayMs: number): void {
    if (e.gone) return;
    if (e.timer) clearTimeout(e.timer);
    e.timer = setTimeout(() => {
      e.timer = null;
      this.enqueue(e, () => this.register(e));
    }, delayMs);
    e.timer.unref?.();
  }

  /** One registration: REGISTER (challenge answered once, 423 asked again once), then the next refresh or retry. */
  private async register(e: Entry): Promise<void> {
    if (e.gone || !e.rec) return;
    let asked = e.askedS;
    let verdict: RegisterVerdict;
    for (let round = 0; ; round++) {
      const out = await this.exchange(e, asked);
      if (e.gone) return;
      verdict = out.kind === 'final' ? registerVerdict(out.res, e.rec.contact, asked) : { kind: 'failed' as const, reason: out.reason };
      if (verdict.kind === 'interval' && round === 0) {
        this.log.info({ server: e.server.name, min_expires: verdict.minExpires }, 'peer asks for a longer registration (423)');
        asked = e.askedS = verdict.minExpires;
        continue;
      }
      break;
    }
    const now = Date.now();
    if (verdict.kind === 'registered') {
      Object.assign(e.rec, { state: 'registered', expires_at: now + verdict.grantedS * 1000, granted_s: verdict.grantedS, failures: 0 });
      this.stats.registered++;
      this.log.info({ server: e.server.name, aor: e.rec.aor, expires: verdict.grantedS, cseq: e.rec.cseq }, 'registered at peer');
      await this.save(e);
      this.schedule(e, refreshDelayMs(verdict.grantedS));
      return;
    }
    const reason = verdict.kind === 'failed' ? verdict.reason : verdict.kind === 'challenge' ? 'challenged again (credentials refused)' : '423 again';
    e.rec.failures++;
    e.rec.state = 'failed';
    e.rec.last_reason = reason;
    this.stats.failed++;
    const wait = backoffMs(e.rec.failures, this.o.retryMinMs, this.o.retryMaxMs);
    this.log.warn({ server: e.server.name, aor: e.rec.aor, code: e.rec.last_code, reason, retry_in_ms: wait }, 'registration at peer failed');
    await this.save(e);
    this.schedule(e, wait);
  }

  /** The binding removed (Expires: 0), with the credentials it was made with; its state deleted. */
  private async unregister(e: Entry, why: string): Promise<void> {
    if (!e.rec) return;
    const out = await this.exchange(e, 0, true);
    const ok = out.kind === 'final' && out.res.status >= 200 && out.res.status < 300;
    this.stats.unregistered++;
    this.log.info({ server: e.server.name, aor: e.rec.aor, why, result: out.kind === 'final' ? out.res.status : out.reason }, ok ? 'unregistered at peer' : 'un-REGISTER at peer not confirmed');
    await this.o.store.remove(e.server.id).catch((err: Error) => this.log.warn({ server: e.server.name, err: err.message }, 'peerreg state not removed from redis'));
  }

  private async save(e: Entry): Promise<void> {
    await this.o.store.write(e.server.id, e.rec!).catch((err: Error) => this.log.warn({ server: e.server.name, err: err.message }, 'peerreg state not written to redis'));
  }

  /**
   * Send a REGISTER (CSeq + 1, saved first) to the server's first target and wait for its final;
   * a 401/407 is answered once with the server's credentials (CSeq + 1 again, same Call-ID).
   * `quiet`: an un-REGISTER, whose state is not recorded.
   */
  private async exchange(e: Entry, expires: number, quiet = false): Promise<{ kind: 'final'; res: SipResponse } | { kind: 'error'; reason: string }> {
    const rec = e.rec!;
    const s = e.server;
    let target: Target | undefined;
    try {
      target = (await this.o.targets(s))[0];
    } catch (err) {
      return this.noSend(e, `no target: ${(err as Error).message}`, quiet);
    }
    if (!target) return this.noSend(e, 'no target (name not resolved)', quiet);
    const hop = peerHop(target, this.o.lb);
    if (!hop.dest) return this.noSend(e, 'no lb for a tcp/tls peer', quiet);
    const ruri = registrarUri(s.register ?? { user: '', domain: s.host, contactUser: '', expires }, s);
    let authorization: { header: string; value: string } | undefined;
    for (let round = 0; round < 2; round++) {
      // stopped (standby, replaced) while the challenge came: the next active agent goes on from here
      if (round > 0 && e.gone && !quiet) return { kind: 'error', reason: 'stopped' };
      rec.cseq++;
      rec.last_attempt_at = Date.now();
      if (!quiet) {
        if (rec.state !== 'registered') rec.state = rec.state === 'failed' ? 'failed' : 'registering';
        await this.save(e);
      }
      const req = buildRegister({
        ruri, aor: rec.aor, contact: rec.contact, callId: rec.call_id, fromTag: rec.from_tag, cseq: rec.cseq, expires,
        via: this.o.self(), route: hop.route, ...(authorization ? { authorization } : {}),
      });
      this.stats.sent++;
      const fin = await this.o.send(req, hop.dest);
      const res = fin.res;
      const result = fin.origin !== 'network' ? fin.origin : res.status < 300 ? 'ok' : res.status === 401 || res.status === 407 ? 'challenge' : res.status === 423 ? 'interval' : res.status >= 500 ? 'server-error' : 'rejected';
      this.o.requests?.inc({ result });
      if (!quiet) {
        rec.last_code = res.status;
        rec.last_reason = fin.origin === 'timeout' ? 'timeout' : res.reason;
      }
      if (round === 0 && (res.status === 401 || res.status === 407)) {
        const answer = answerPeerChallenge(s.auth, res, req);
        if (!answer.ok) return { kind: 'error', reason: `${res.status} not answerable (${answer.reason})` };
        authorization = { header: answer.header, value: answer.value };
        continue;
      }
      return { kind: 'final', res };
    }
    throw new Error('unreachable');
  }

  private noSend(e: Entry, reason: string, quiet: boolean): { kind: 'error'; reason: string } {
    if (!quiet && e.rec) {
      e.rec.last_code = null;
      e.rec.last_reason = reason;
      e.rec.last_attempt_at = Date.now();
    }
    return { kind: 'error', reason };
  }
}

/**
 * `peer_registrations{state}` (registered, failed, unregistered — a first REGISTER still under
 * way counts as unregistered; 0 outside the active node's worker 0) and
 * `peer_register_requests_total{result}` (ok, challenge, interval, rejected, server-error, timeout, transport-error).
 */
export function createRegisterMetrics(registry: Registry, states: () => RegistrationState[]): { requests: Counter<'result'> } {
  new Gauge({
    name: 'peer_registrations', help: 'Outbound registrations to peering servers by state (registered, failed, unregistered); counted by the active node\'s registration agent',
    labelNames: ['state'], registers: [registry],
    collect() {
      const n = { registered: 0, failed: 0, unregistered: 0 };
      for (const s of states()) n[s === 'registering' ? 'unregistered' : s]++;
      for (const [state, v] of Object.entries(n)) this.set({ state }, v);
    },
  });
  return {
    requests: new Counter({
      name: 'peer_register_requests_total', help: 'REGISTERs sent to peering servers by result (ok = 2xx, challenge = 401/407, interval = 423, rejected = other 3xx-6xx but 5xx, server-error = 5xx, timeout, transport-error)',
      labelNames: ['result'], registers: [registry],
    }),
  };
}
