/**
 * Star codes and failed-call announcements (issue #11, docs/routing.md "Star codes",
 * "Announcements"): the proxy in-process with real MariaDB and Redis, subscribers provisioned
 * through the API; a real sipp UAS stands where the app-server is (its address is
 * `appserver.address`): it checks that the INVITE is for `sip:announce.<name>@…`, answers 200
 * and ends the announcement with a BYE (or answers 503). The forwards a star code writes are
 * read back through the API (`/api/callforwards`, `/api/journal`) and used by the next call.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@ngcp/testkit';
import { peeringServer, subscriberParties, until, useHarness, type Party } from './harness.js';
import { received, sippUas, type SippUas } from './sipp.js';
import { Ua } from './ua.js';

const APPSERVER = '127.0.0.64';
let appPort = 0;
const h = useHarness(async () => {
  appPort = await freePort({ udp: true, host: APPSERVER });
  return {
    appserver: { address: `${APPSERVER}:${appPort}` }, announcements: { enable: true },
    calls: { ttl_s: 600, auth: true, forward_ring_timeout_s: 20 },
  };
});
const stops: Array<() => Promise<void> | void> = [];
const started: Ua[] = [];
afterEach(async () => {
  for (const s of stops.splice(0).reverse()) await s();
  for (const u of started.splice(0)) await u.stop();
});

/** The app-server stand-in for one call (sipp on `appserver.address`). */
const appserver = (scenario = 'uas-appserver-announce-then-bye.xml'): Promise<SippUas> => sippUas(scenario, APPSERVER, stops, { port: appPort });

/** sipp ran its scenario through, and the one INVITE it got was for announcement `name`. */
async function expectAnnounced(uas: SippUas, name: string): Promise<void> {
  const res = await uas.done;
  expect(res.code, res.report).toBe(0);
  const invites = received(res.messages, 'INVITE');
  expect(invites.map((i) => i.startLine)).toEqual([`INVITE sip:announce.${name}@${APPSERVER}:${appPort} SIP/2.0`]);
}

/** Subscribers of a new domain with their UAs (harness.ts); those in `unregistered` do not register. */
const parties = (names: string[], unregistered: string[] = []) => subscriberParties(h(), names, { started, unregistered });

const forwardsOf = async (sub: Party) => (await h().api('GET', `/api/callforwards/${sub.id}`)).data;
const journalOf = async (sub: Party) => (await h().api('GET', `/api/journal?entity=call_forwards&entity_id=${sub.id}`)).data.items as Array<Record<string, unknown>>;
const metric = async (name: string): Promise<string> => h().metrics.getSingleMetricAsString(name);

/** A star code dialled by `sub`, confirmed by announcement `name`: 200 from the app-server, whose BYE reaches the phone. */
async function dial(sub: Party, domain: string, user: string, name: string): Promise<void> {
  const uas = await appserver();
  const r = await sub.ua.invite(`sip:${user}@${domain}`);
  expect(r.final.status).toBe(200);
  expect((await sub.ua.next('BYE')).req.callId()).toBe(r.req.callId());
  await expectAnnounced(uas, name);
}

/** `from` calls `to`, who answers; then BYE. */
async function callAnswered(from: Party, to: Party, domain: string, target = `sip:${to.number}@${domain}`): Promise<void> {
  const calling = from.ua.invite(target);
  const dialog = to.ua.answer(await to.ua.next('INVITE'), 200)!;
  expect((await calling).final.status).toBe(200);
  expect((await to.ua.inDialog(dialog)).status).toBe(200);
}

describe('star codes', { timeout: 60_000 }, () => {
  it('*72*<number> (escaped as phones send it) sets CFU through the API\'s code — the forward and its journal row — confirmed by vsc-ok; B\'s next call goes to C; #72# clears it (vsc-cleared) and B rings again', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await dial(p.b!, domain, `%2A72%2A${p.c!.number}%23`, 'vsc-ok');
    const set = await forwardsOf(p.b!);
    expect(set.cfu).toEqual({ enabled: true, destinations: [{ type: 'number', destination: p.c!.number }] });
    const journal = await journalOf(p.b!);
    expect(journal).toHaveLength(1);
    expect(journal[0]).toMatchObject({ login: `sip:b@${domain}`, role: 'subscriber', api_user_id: null, op: 'update', remote_addr: '127.0.0.1', content: set });
    expect(await metric('proxy_vsc_total')).toContain('proxy_vsc_total{code="cfu",result="set"} 1');

    // the next call to B is forwarded to C at once (the proxy dropped its cached forwards)
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    const inc = await p.c!.ua.next('INVITE');
    expect(inc.req.get('diversion')).toBe(`<sip:${p.b!.number}@${domain}>;reason=unconditional;counter=1`);
    const dialog = p.c!.ua.answer(inc, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    expect(p.b!.ua.pending('INVITE')).toBe(0);

    await dial(p.b!, domain, '%2372%23', 'vsc-cleared');
    expect((await forwardsOf(p.b!)).cfu.destinations).toEqual([]);
    expect(await journalOf(p.b!)).toHaveLength(2);
    await callAnswered(p.a!, p.b!, domain);
    expect(p.c!.ua.pending('INVITE')).toBe(0);
    expect(await metric('proxy_announcements_total')).toMatch(/name="vsc-cleared"\} 1/);
  });

  it('*90* sets CFB, *93* CFNA, *92* CFT with the default ring timeout (the number normalised like a dialled one); the other forwards are kept', async () => {
    const { domain, p } = await parties(['a', 'b', 'c']);
    await dial(p.b!, domain, `*90*${p.c!.number}`, 'vsc-ok');
    await dial(p.b!, domain, `*93*+${p.c!.number}`, 'vsc-ok');
    await dial(p.b!, domain, `*92*${p.a!.number}%23`, 'vsc-ok');
    const f = await forwardsOf(p.b!);
    expect(f.cfb.destinations).toEqual([{ type: 'number', destination: p.c!.number }]);
    expect(f.cfna.destinations).toEqual([{ type: 'number', destination: p.c!.number }]);
    expect(f.cft).toEqual({ enabled: true, ringtimeout: 20, destinations: [{ type: 'number', destination: p.a!.number }] });
    expect(f.cfu.destinations).toEqual([]);
    // CFB in use: B busy → C
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    const inc = await p.c!.ua.next('INVITE');
    expect(inc.req.get('diversion')).toContain('reason=user-busy');
    const dialog = p.c!.ua.answer(inc, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    await dial(p.b!, domain, '%2390%23', 'vsc-cleared');
    expect((await forwardsOf(p.b!)).cfb.destinations).toEqual([]);
    expect((await forwardsOf(p.b!)).cfna.destinations).toHaveLength(1);
  });

  it('an invalid target is refused by the API\'s check: vsc-error, nothing stored, no journal row; a malformed code too', async () => {
    const { domain, p } = await parties(['a']);
    // 0 is no E.164 number (no rewrite rule makes it one)
    await dial(p.a!, domain, '*72*0', 'vsc-error');
    await dial(p.a!, domain, '*72*alice', 'vsc-error');
    expect((await forwardsOf(p.a!)).cfu.destinations).toEqual([]);
    expect(await journalOf(p.a!)).toEqual([]);
    expect(await metric('proxy_vsc_total')).toMatch(/code="cfu",result="error"\} 2/);
  });

  it('*31*<number> calls the number with the caller\'s identity withheld for that call only (no announcement)', async () => {
    const { domain, p } = await parties(['a', 'b']);
    const calling = p.a!.ua.invite(`sip:*31*${p.b!.number}@${domain}`);
    const inc = await p.b!.ua.next('INVITE');
    expect(inc.req.get('from')).toMatch(/^"Anonymous" <sip:anonymous@anonymous\.invalid>;tag=/);
    expect(inc.req.get('privacy')).toBe('id');
    expect(inc.req.get('p-asserted-identity')).toBeUndefined();
    const dialog = p.b!.ua.answer(inc, 200)!;
    expect((await calling).final.status).toBe(200);
    expect((await p.b!.ua.inDialog(dialog)).status).toBe(200);
    // the next call shows the caller again
    const next = p.a!.ua.invite(`sip:${p.b!.number}@${domain}`);
    const inc2 = await p.b!.ua.next('INVITE');
    expect(inc2.req.get('from')).toContain(`sip:${p.a!.number}@${domain}`);
    const d2 = p.b!.ua.answer(inc2, 200)!;
    expect((await next).final.status).toBe(200);
    expect((await p.b!.ua.inDialog(d2)).status).toBe(200);
    expect(await metric('proxy_vsc_total')).toContain('proxy_vsc_total{code="clir",result="call"} 1');
  });
});

describe('failed-call announcements (announcements.enable)', { timeout: 60_000 }, () => {
  it('a call to an unknown number hears number-unknown; a busy callee busy: the app-server\'s 200 with media through mediactl, accounted as answered', async () => {
    const { domain, p } = await parties(['a', 'b']);
    let uas = await appserver();
    const unknown = await p.a!.ua.invite(`sip:4399999999@${domain}`);
    expect(unknown.final.status).toBe(200);
    expect((await p.a!.ua.next('BYE')).req.callId()).toBe(unknown.req.callId());
    await expectAnnounced(uas, 'number-unknown');
    await until(() => h().media.of(unknown.req.callId()).includes('delete'), 'media deleted');
    expect(h().media.of(unknown.req.callId()).slice(0, 2)).toEqual(['offer', 'answer']);

    uas = await appserver();
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    const busy = await calling;
    expect(busy.final.status).toBe(200);
    expect((await p.a!.ua.next('BYE')).req.callId()).toBe(busy.req.callId());
    await expectAnnounced(uas, 'busy');
    const rows = await until(async () => {
      const x = await h().db('acc').where({ callid: busy.req.callId() }).orderBy('id');
      return x.length >= 2 ? x : undefined;
    }, 'acc start and stop');
    expect(rows!.map((r: { kind: string }) => r.kind)).toEqual(['start', 'stop']);
    expect(await metric('proxy_announcements_total')).toMatch(/name="busy"\} 1/);
  });

  it('the app-server answers 503: the caller gets the original 486 (accounted as that failure); a 404 its 404', async () => {
    const { domain, p } = await parties(['a', 'b']);
    let uas = await appserver('uas-appserver-503-expect-ack.xml');
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    const r = await calling;
    expect(r.final.status).toBe(486);
    await expectAnnounced(uas, 'busy');
    const row = await until(async () => (await h().db('acc').where({ callid: r.req.callId() }))[0], 'acc failure');
    expect(row).toMatchObject({ kind: 'failure', sip_code: '486' });

    uas = await appserver('uas-appserver-503-expect-ack.xml');
    const unknown = await p.a!.ua.invite(`sip:4399999998@${domain}`);
    expect(unknown.final.status).toBe(404);
    await expectAnnounced(uas, 'number-unknown');
  });

  it('an app-server that does not answer at all: the caller gets the original 486 within the announcement\'s answer time (not Timer B\'s 32 s)', async () => {
    const { domain, p } = await parties(['a', 'b']);
    const t0 = Date.now();
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    expect((await calling).final.status).toBe(486);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('a call from a peer is untouched: an unregistered subscriber gives the peer the bare 480', async () => {
    const { p } = await parties(['b'], ['b']);
    const { peer } = await peeringServer(h(), '127.0.0.65', null);
    stops.push(() => peer.stop());
    const before = await metric('proxy_announcements_total');
    const r = await peer.invite(`sip:${p.b!.number}@127.0.0.1`);
    expect(r.final.status).toBe(480);
    expect(await metric('proxy_announcements_total')).toBe(before);
  });
});
