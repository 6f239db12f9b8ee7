/**
 * REGISTER (RFC 3261 §10.3, RFC 3327 Path, RFC 5626 instance): digest 401 for realm = the
 * AoR's domain, then the bindings in Redis `location:<aor>` through `decideRegister`.
 */
import type { NameAddr, ServerTransaction, SipRequest, TransportSource as Source } from '@ngcp/sip';
import { createResponse, newTag, parseNameAddr } from '@ngcp/sip';
import { clientAddress, reply, respond, type ProxyContext } from '../context.js';
import { receivedFromPath } from '../routing/uri-destination.js';
import { contactHeaderValues, decideRegister, type RegisterContact } from './bindings.js';

function contactOf(na: NameAddr): RegisterContact {
  const c: RegisterContact = { uri: na.uri.toString() };
  const e = na.param('expires');
  if (typeof e === 'string' && /^\d+$/.test(e)) c.expires = Math.min(Number(e), 2 ** 31 - 1);
  const q = na.param('q');
  if (typeof q === 'string') {
    const v = Number(q);
    if (Number.isFinite(v) && v >= 0 && v <= 1) c.q = v;
  }
  const inst = na.param('+sip.instance');
  if (typeof inst === 'string') c.instance = inst.replace(/^"|"$/g, '');
  const reg = na.param('reg-id');
  if (typeof reg === 'string' && /^\d+$/.test(reg)) c.regId = Number(reg);
  return c;
}

export async function handleRegister(ctx: ProxyContext, tx: ServerTransaction, req: SipRequest, source: Source): Promise<void> {
  const to = req.to().uri;
  if (!to.isSip || !to.user) {
    reply(ctx, tx, req, 400, { reason: 'Bad To (AoR)' });
    return;
  }
  const username = to.user;
  const domain = to.hostname;
  const aor = `${username}@${domain}`;
  // registrar.auth false: benchmark/lab only (config.ts), no challenge at all
  const withAuth = ctx.config.registrar.auth !== false;
  // a REGISTER with credentials: its stored bindings are read meanwhile, so the read and the
  // nonce-count check (RedisNonceCountStore) share one Redis round trip (auto-pipelining);
  // without credentials it is challenged and nothing is read
  const loading = withAuth && req.has('authorization') ? ctx.location.load(aor) : undefined;
  loading?.catch(() => undefined); // awaited below; unused when refused
  const auth = !withAuth ? { ok: true as const } : await ctx.auth.authenticate(req, domain, false, username, clientAddress(req, source));
  if (!auth.ok) {
    if ('challenge' in auth) {
      reply(ctx, tx, req, 401, { headers: auth.challenge.map((v) => ['WWW-Authenticate', v] as [string, string]) });
      if (auth.reason !== 'missing') ctx.metrics.authFailures.inc();
    } else {
      ctx.metrics.authFailures.inc();
      ctx.logger.info({ component: 'registrar', aor, reason: auth.reason, source: source.address }, 'register refused');
      reply(ctx, tx, req, 403);
    }
    return;
  }
  const contacts = req.contacts();
  const path = req.elements('path');
  const pathUris = path.map((p) => parseNameAddr(p, 'path').uri);
  const received = receivedFromPath(pathUris) ?? `${source.transport}:${source.address}:${source.port}`;
  // RFC 5626 §6: outbound holds when the first hop (the lb) marked its Path `ob` for a Contact with reg-id
  const firstHopOb = pathUris[0] !== undefined && pathUris[0].isSip && pathUris[0].hasParam('ob');
  const outbound = firstHopOb && contacts !== '*' && contacts.some((c) => typeof c.param('reg-id') === 'string') && req.optionTags('supported').includes('outbound');
  if (!firstHopOb && req.optionTags('require').includes('outbound')) {
    reply(ctx, tx, req, 439, { reason: 'First Hop Lacks Outbound Support' });
    return;
  }
  const now = Math.floor(Date.now() / 1000);
  const stored = await (loading ?? ctx.location.load(aor));
  const expiresHeader = req.expires();
  const ua = req.get('user-agent');
  const d = decideRegister(stored, {
    now,
    contacts: contacts === '*' ? '*' : contacts.map(contactOf),
    ...(expiresHeader !== undefined ? { expiresHeader } : {}),
    callId: req.callId(),
    cseq: req.cseq().seq,
    ...(ua !== undefined ? { userAgent: ua } : {}),
    path,
    received,
    socket: `udp:${ctx.self.address}:${ctx.self.port}`,
  }, {
    minExpires: ctx.config.registrar.min_expires,
    maxExpires: ctx.config.registrar.max_expires,
    defaultExpires: ctx.config.registrar.default_expires,
    maxContacts: ctx.config.registrar.max_contacts,
  });
  if (d.kind === 'reject') {
    reply(ctx, tx, req, d.status, {
      ...(d.reason ? { reason: d.reason } : {}),
      ...(d.minExpires !== undefined ? { headers: [['Min-Expires', String(d.minExpires)]] } : {}),
    });
    return;
  }
  if (d.set.length > 0 || d.remove.length > 0) await ctx.location.apply(aor, d.set, d.remove, d.keyExpiresAt);
  const res = createResponse(req, 200, { toTag: newTag() });
  for (const c of contactHeaderValues(d.bindings, now)) res.append('Contact', c);
  // RFC 3327 §5.3: Path is echoed only to a UA that said it supports it
  if (path.length > 0 && req.optionTags('supported').includes('path')) for (const p of path) res.append('Path', p);
  if (outbound) {
    // the UA keeps its flow alive (CRLF pings) every 80–100 % of Flow-Timer, and so finds a
    // dead connection — after a failover moved the shared IP — within that time (docs/ha.md)
    res.append('Require', 'outbound');
    if (ctx.config.registrar.flow_timer > 0) res.append('Flow-Timer', String(ctx.config.registrar.flow_timer));
  }
  res.append('Date', new Date().toUTCString());
  respond(ctx, tx, req.method, res);
  ctx.logger.debug({ component: 'registrar', aor, bindings: d.bindings.length }, 'registered');
}
