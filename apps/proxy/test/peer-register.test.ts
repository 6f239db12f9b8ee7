/**
 * Outbound registration to peers (issue #11, docs/routing.md "Outbound registration to peers"):
 * the proxy in-process (no lb: `lb: ''` sends to the peers directly), the carrier's registrar a
 * real sipp UAS on its own loopback address (scenarios/uas-registrar-401-verify-auth.xml: 401
 * first, then sipp checks the credentials itself — verifyauth — and grants 4 s), the server
 * provisioned through the API, the state read back from the API and Redis `peerreg:<id>`.
 * What sipp received is read from its message trace (with sipp's own timestamps).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RPC_CTX, uniq, until, useHarness } from './harness.js';
import { cseqOf, received, sippUas as startSippUas, type SippUas, type Traced } from './sipp.js';

const h = useHarness({
  peering: { attempt_timeout_ms: 3000, down_after: 3, probe_interval_ms: 60_000, probe_timeout_ms: 500, dns_servers: [], register_retry_min_s: 1, register_retry_max_s: 2 },
});
const stops: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  h().proxy.setRole('active');
  for (const s of stops.splice(0).reverse()) await s();
});

const SCENARIO = 'uas-registrar-401-verify-auth.xml';
const TRUNK = { auth_username: 'trunk-user', auth_password: 'trunk-secret' };
let nextHost = 91;

const sippUas = (): Promise<SippUas> => startSippUas(SCENARIO, `127.0.0.${nextHost++}`, stops, { limitMs: 40_000 });

/** A group of one registering server (sipp), once the proxy loaded it. */
async function registeringServer(uas: SippUas, extra: Record<string, unknown> = {}): Promise<{ id: number; url: string }> {
  const g = await h().api('POST', '/api/peeringgroups', { name: uniq('g'), priority: 1 });
  const s = await h().api('POST', '/api/peeringservers', {
    group_id: g.data.id, name: uniq('carrier'), host: uas.address, port: uas.port, register_enable: true, register_expires_s: 60, register_domain: 'carrier.example', ...TRUNK, ...extra,
  });
  expect(s.status, JSON.stringify(s.data)).toBe(201);
  await until(async () => {
    const list = (await h().proxy.methods['peering.list']!(undefined, RPC_CTX)) as { servers: Array<{ id: number }> };
    return list.servers.some((x) => x.id === s.data.id);
  }, 'peering table reloaded');
  return { id: s.data.id as number, url: `/api/peeringservers/${s.data.id}` };
}

const stored = async (id: number): Promise<{ state: string; call_id: string; cseq: number; failures: number; last_code: number | null } | null> => {
  const v = await h().redis.get(`peerreg:${id}`);
  return v ? JSON.parse(v) : null;
};
const registration = async (url: string): Promise<{ state: string; expires_at: string | null; last_code: number | null; last_reason: string | null; last_attempt_at: string | null }> =>
  (await h().api('GET', url)).data.registration;

/** The REGISTERs sipp got, with the answer sipp sent to each (same CSeq). */
function exchanges(msgs: Traced[]): Array<{ req: Traced; res: Traced | undefined }> {
  return received(msgs, 'REGISTER').map((req) => ({ req, res: msgs.find((m) => m.dir === 'sent' && m.startLine.startsWith('SIP/2.0') && m.header('CSeq') === req.header('CSeq')) }));
}
const statusOf = (t: Traced | undefined): number => Number(t?.startLine.split(' ')[1]);

describe('outbound registration to a peering server', () => {
  it('registers (401 answered, credentials checked by sipp), refreshes before the granted 4 s with the same Call-ID and growing CSeq; disabling the server un-REGISTERs', async () => {
    const uas = await sippUas();
    const { id, url } = await registeringServer(uas);
    const reg = (await until(async () => {
      const r = await registration(url);
      return r.state === 'registered' ? r : null;
    }, 'registered'))!;
    expect(reg.last_code).toBe(200);
    const expiresIn = Date.parse(reg.expires_at!) - Date.now();
    expect(expiresIn).toBeGreaterThan(0);
    expect(expiresIn).toBeLessThanOrEqual(4000);
    // two refreshes (each a 401 and an answered REGISTER: CSeq 1-2 first, 3-4, 5-6)
    await until(async () => ((await stored(id))?.cseq ?? 0) >= 6 && (await stored(id))?.state === 'registered', 'two refreshes', 15_000);
    expect((await registration(url)).state).toBe('registered');
    const patched = await h().api('PATCH', url, [{ op: 'replace', path: '/enabled', value: false }]);
    expect(patched.status).toBe(200);
    const out = await uas.done;
    expect(out.code, out.report).toBe(0);
    const ex = exchanges(out.messages);
    const callIds = new Set(ex.map((e) => e.req.header('Call-ID')));
    expect(callIds.size, 'one binding: one Call-ID').toBe(1);
    const cseqs = ex.map((e) => cseqOf(e.req));
    expect(cseqs).toEqual(cseqs.map((_, i) => cseqs[0]! + i)); // +1 each time
    // every other REGISTER carries the answer to the 401 before it
    for (const [i, e] of ex.entries()) {
      expect(statusOf(e.res), `REGISTER ${cseqOf(e.req)}`).toBe(i % 2 === 0 ? 401 : 200);
      expect(Boolean(e.req.header('Authorization')), `REGISTER ${cseqOf(e.req)}`).toBe(i % 2 === 1);
      expect(e.req.header('Contact')).toMatch(/^<sip:trunk-user@127\.0\.0\.1:\d+>$/);
      expect(e.req.header('From')).toMatch(/^<sip:trunk-user@carrier\.example>;tag=/);
    }
    // each refresh came before the 4 s granted by the 200 before it (at ~80 %: 3.2 s)
    const granted = ex.filter((e, i) => i % 2 === 1 && e.req.header('Expires') !== '0');
    expect(granted.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < granted.length; i++) {
      const next = ex[ex.indexOf(granted[i]!) - 1]!.req; // the unauthenticated REGISTER that started the refresh
      const gap = next.at - granted[i - 1]!.res!.at;
      expect(gap, `refresh ${i}`).toBeGreaterThan(2500);
      expect(gap, `refresh ${i}`).toBeLessThan(4000);
    }
    // the last exchange removed the binding
    expect(ex.slice(-2).map((e) => e.req.header('Expires'))).toEqual(['0', '0']);
    expect(statusOf(ex.at(-1)!.res)).toBe(200);
    await until(async () => (await stored(id)) === null, 'peerreg state deleted');
    expect((await registration(url)).state).toBe('disabled');
    await h().api('DELETE', url);
  });

  it('a wrong password: failed with the registrar\'s 403, tried again after the backoff; deleting the server ends it', async () => {
    const uas = await sippUas();
    const { id, url } = await registeringServer(uas, { auth_password: 'wrong-secret' });
    const reg = (await until(async () => {
      const r = await registration(url);
      return r.state === 'failed' ? r : null;
    }, 'failed'))!;
    expect(reg).toMatchObject({ state: 'failed', expires_at: null, last_code: 403 });
    expect(reg.last_reason).toMatch(/403/);
    await until(async () => ((await stored(id))?.failures ?? 0) >= 2, 'tried again');
    const metrics = await h().metrics.getSingleMetricAsString('peer_register_requests_total');
    expect(metrics).toMatch(/peer_register_requests_total\{result="rejected"\} [2-9]/);
    expect(await h().metrics.getSingleMetricAsString('peer_registrations')).toMatch(/peer_registrations\{state="failed"\} 1/);
    expect((await h().api('DELETE', url)).status).toBe(204);
    const out = await uas.done;
    expect(out.code, out.report).toBe(0);
    const ex = exchanges(out.messages);
    const failedRounds = ex.filter((e) => statusOf(e.res) === 403 && e.req.header('Expires') !== '0');
    expect(failedRounds.length).toBeGreaterThanOrEqual(2);
    // retried after the backoff (1 s, then 2 s), not at once
    expect(failedRounds[1]!.req.at - failedRounds[0]!.res!.at).toBeGreaterThan(800);
    expect(new Set(ex.map((e) => e.req.header('Call-ID'))).size).toBe(1);
    await until(async () => (await stored(id)) === null, 'peerreg state deleted');
  });

  it('a standby node sends nothing; on becoming active it registers; a new agent (restart / the other node) refreshes with the same Call-ID and the next CSeq', async () => {
    h().proxy.setRole('standby');
    const uas = await sippUas();
    const { id, url } = await registeringServer(uas);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await stored(id), 'nothing sent, nothing written while standby').toBeNull();
    expect((await registration(url)).state).toBe('unregistered');
    h().proxy.setRole('active');
    await until(async () => (await stored(id))?.state === 'registered', 'registered once active');
    const first = (await stored(id))!;
    // standby again: the binding is left to the other node, no refresh from here
    h().proxy.setRole('standby');
    await new Promise((r) => setTimeout(r, 500));
    const before = (await stored(id))!;
    await new Promise((r) => setTimeout(r, 4000));
    expect((await stored(id))!.cseq, 'no REGISTER while standby').toBe(before.cseq);
    // a new proxy (no memory of the binding: as the other node after a takeover) — a single node is active
    await h().restartProxy();
    await until(async () => ((await stored(id))?.cseq ?? 0) > before.cseq && (await stored(id))?.state === 'registered', 'refreshed by the new agent');
    expect((await stored(id))!.call_id).toBe(first.call_id);
    expect((await h().api('PATCH', url, [{ op: 'replace', path: '/register_enable', value: false }])).status).toBe(200);
    const out = await uas.done;
    expect(out.code, out.report).toBe(0);
    const ex = exchanges(out.messages);
    expect(new Set(ex.map((e) => e.req.header('Call-ID')))).toEqual(new Set([first.call_id]));
    const cseqs = ex.map((e) => cseqOf(e.req));
    expect(cseqs).toEqual(cseqs.map((_, i) => cseqs[0]! + i));
    await h().api('DELETE', url);
  });
});
