/**
 * Voicemail routing and the MWI relay (issue #11, docs/routing.md "Voicemail"): the proxy
 * in-process with real MariaDB and Redis, subscribers and forwards provisioned through the API;
 * a UA on its own loopback address stands where the app-server is (`appserver.address`): it
 * receives the deposit/retrieval INVITEs and sends the MWI NOTIFYs from that address. The
 * phones are UAs registered through the proxy (standing where the lb is: their Path).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '@ngcp/testkit';
import type { SipRequest } from '@ngcp/sip';
import { subscriberParties, until, useHarness, type Party } from './harness.js';
import { PeerUa, Ua, type Incoming } from './ua.js';

const APPSERVER = '127.0.0.65';
let appPort = 0;
const h = useHarness(async () => {
  appPort = await freePort({ udp: true, host: APPSERVER });
  return {
    appserver: { address: `${APPSERVER}:${appPort}` },
    voicemail: { enable: true, number: '2000' },
    calls: { ttl_s: 600, auth: true, forward_ring_timeout_s: 2 },
  };
});
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

/** The app-server stand-in: a UA on `appserver.address` (its requests come from there). */
async function appserver(): Promise<PeerUa> {
  const ua = await new PeerUa(APPSERVER, h().proxy.address(), 'voicebox').start(appPort);
  started.push(ua);
  return ua;
}

const parties = (names: string[], unregistered: string[] = []) => subscriberParties(h(), names, { started, unregistered });
const metric = async (name: string): Promise<string> => h().metrics.getSingleMetricAsString(name);

async function forwards(sub: Party, doc: Record<string, { destinations: Array<{ type: string; destination: string | null }>; ringtimeout?: number }>): Promise<void> {
  const before = ((await h().proxy.stats()).changes as { messages: number }).messages;
  const r = await h().api('PUT', `/api/callforwards/${sub.id}`, doc);
  expect(r.status, JSON.stringify(r.data)).toBe(200);
  await until(async () => ((await h().proxy.stats()).changes as { messages: number }).messages > before, 'change notification at the proxy');
}
const VOICEMAIL = [{ type: 'voicemail', destination: null }];

async function accRows(callId: string, n: number): Promise<Array<Record<string, unknown>>> {
  return (await until(async () => {
    const rows = await h().db('acc').where({ callid: callId }).orderBy('id');
    return rows.length >= n ? rows : undefined;
  }, 'acc rows'))!;
}

/** The app-server answers the INVITE it got (200 with SDP); the caller's call is up; the caller hangs up. */
async function answerAndHangUp(app: PeerUa, inc: Incoming, calling: ReturnType<Ua['invite']>, caller: Ua): Promise<string> {
  app.answer(inc, 200);
  const r = await calling;
  expect(r.final.status).toBe(200);
  expect((await caller.inDialog(r.dialog!)).status).toBe(200);
  return r.req.callId();
}

/** An MWI NOTIFY as the app-server sends it (RFC 3842 body). */
function mwi(app: PeerUa, aor: string, waiting: boolean): SipRequest {
  const req = app.build('NOTIFY', `sip:${aor}`, `<sip:${aor}>`, [['Event', 'message-summary'], ['Contact', `<${app.contact}>`]]);
  req.setBody(`Messages-Waiting: ${waiting ? 'yes' : 'no'}\r\nMessage-Account: sip:voicebox@${aor.split('@')[1]}\r\nVoice-Message: ${waiting ? 1 : 0}/0\r\n`, 'application/simple-message-summary');
  return req;
}

describe('forwards to voicemail', { timeout: 60_000 }, () => {
  it.each([
    ['cfu', 'unconditional'],
    ['cfb', 'user-busy'],
    ['cfna', 'unavailable'],
    ['cft', 'no-answer'],
  ])('%s to voicemail: the app-server gets sip:vm-deposit.<B\'s id> with the caller in From and a Diversion (%s); media offered; acc names the box (voicebox.local, B\'s id, B as dialled) with call type voicemail, start and stop', async (type, reason) => {
    const app = await appserver();
    const { domain, p } = await parties(['a', 'b'], type === 'cfna' ? ['b'] : []);
    await forwards(p.b!, { [type]: { destinations: VOICEMAIL, ...(type === 'cft' ? { ringtimeout: 5 } : {}) } });
    const before = await metric('proxy_voicemail_calls_total');
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    if (type === 'cfb') p.b!.ua.answer(await p.b!.ua.next('INVITE'), 486);
    if (type === 'cft') p.b!.ua.answer(await p.b!.ua.next('INVITE'), 180, false);
    const inc = await app.next('INVITE');
    expect(inc.req.uri).toBe(`sip:vm-deposit.${p.b!.id}@${APPSERVER}:${appPort}`);
    // the caller as B's phones would see it: its number (B's domain has no rewrite rules)
    expect(inc.req.get('from')).toContain(`sip:${p.a!.number}@${domain}`);
    expect(inc.req.get('diversion')).toContain(`reason=${reason}`);
    // the caller's SDP went through mediactl (the fake rewrites the address)
    expect(inc.req.body.toString()).toContain('c=IN IP4 203.0.113.1');
    if (type === 'cfu') expect(p.b!.ua.pending('INVITE')).toBe(0);
    if (type === 'cft') expect(p.b!.ua.cancels).toHaveLength(1);
    const callId = await answerAndHangUp(app, inc, calling, p.a!.ua);
    await until(() => h().media.of(callId).includes('delete'), 'media.delete after the BYE');
    expect(h().media.of(callId).slice(0, 2)).toEqual(['offer', 'answer']);
    const rows = await accRows(callId, 2);
    const start = rows.find((x) => x.kind === 'start');
    // the call to the voicebox is marked (whatever forward led there); whose box and whom A dialled stay readable
    expect(start).toMatchObject({
      call_type: 'voicemail', dst_user: `vm-deposit.${p.b!.id}`, dst_domain: 'voicebox.local', dst_subscriber_id: p.b!.id, dst_ouser: 'b', src_subscriber_id: p.a!.id,
    });
    expect(rows.find((x) => x.kind === 'stop')).toMatchObject({ call_type: 'voicemail', dst_domain: 'voicebox.local' });
    expect(await metric('proxy_voicemail_calls_total')).not.toBe(before);
    expect(await metric('proxy_voicemail_calls_total')).toMatch(/kind="deposit"\} [1-9]/);
  });

  it('a forward to another subscriber whose own CFB is voicemail: the deposit is for the last forwarder\'s box (C), not B\'s', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfu: { destinations: [{ type: 'number', destination: p.c!.number }] } });
    await forwards(p.c!, { cfb: { destinations: VOICEMAIL } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    p.c!.ua.answer(await p.c!.ua.next('INVITE'), 486);
    const inc = await app.next('INVITE');
    expect(inc.req.uri).toBe(`sip:vm-deposit.${p.c!.id}@${APPSERVER}:${appPort}`);
    expect(inc.req.getAll('diversion')).toHaveLength(2);
    await answerAndHangUp(app, inc, calling, p.a!.ua);
  });

  it('the app-server refusing the deposit (503): the caller gets the best final (500), nothing rings elsewhere', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['a', 'b']);
    await forwards(p.b!, { cfu: { destinations: VOICEMAIL } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    app.answer(await app.next('INVITE'), 503);
    const r = await calling;
    expect(r.final.status).toBe(500);
    expect(p.b!.ua.pending('INVITE')).toBe(0);
    expect((await accRows(r.req.callId(), 1))[0]).toMatchObject({ kind: 'failure', sip_code: '500', call_type: 'voicemail', dst_user: `vm-deposit.${p.b!.id}`, dst_ouser: 'b' });
  });

  it('CFU to voicemail then C: the app-server refusing, C rings and answers; acc says cfu with C as the callee, not voicemail', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['a', 'b', 'c']);
    await forwards(p.b!, { cfu: { destinations: [...VOICEMAIL, { type: 'number', destination: p.c!.number }] } });
    const calling = p.a!.ua.invite(`sip:b@${domain}`);
    app.answer(await app.next('INVITE'), 503);
    const inc = await p.c!.ua.next('INVITE');
    const dialog = p.c!.ua.answer(inc, 200)!;
    const r = await calling;
    expect(r.final.status).toBe(200);
    expect((await p.c!.ua.inDialog(dialog)).status).toBe(200);
    const rows = await accRows(r.req.callId(), 2);
    expect(rows.find((x) => x.kind === 'start')).toMatchObject({ call_type: 'cfu', dst_user: 'c', dst_subscriber_id: p.c!.id, dst_ouser: 'b' });
    expect(rows.find((x) => x.kind === 'stop')).toMatchObject({ call_type: 'cfu' });
  });
});

describe('the voicemail number', { timeout: 60_000 }, () => {
  it('2000 dialled by a subscriber reaches its own box, sip:vm-retrieve.<its id>, whoever dials; acc names the box (call type voicemail)', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['a', 'b']);
    for (const who of [p.a!, p.b!]) {
      const calling = who.ua.invite(`sip:2000@${domain}`);
      const inc = await app.next('INVITE');
      expect(inc.req.uri).toBe(`sip:vm-retrieve.${who.id}@${APPSERVER}:${appPort}`);
      const callId = await answerAndHangUp(app, inc, calling, who.ua);
      const start = (await accRows(callId, 2)).find((x) => x.kind === 'start');
      expect(start).toMatchObject({ call_type: 'voicemail', dst_user: `vm-retrieve.${who.id}`, dst_domain: 'voicebox.local', dst_subscriber_id: who.id, dst_ouser: '2000' });
    }
    expect(await metric('proxy_voicemail_calls_total')).toMatch(/kind="retrieve"\} 2/);
  });

  it('the number must be dialled as configured: 20001 is routed as any number (404); a caller with a wrong password is refused (403)', async () => {
    await appserver();
    const { domain, p } = await parties(['a']);
    expect((await p.a!.ua.invite(`sip:20001@${domain}`)).final.status).toBe(404);
    const stranger = await new Ua('a', domain, 'wrong-password', h().proxy.address()).start();
    started.push(stranger);
    expect((await stranger.invite(`sip:2000@${domain}`)).final.status).toBe(403);
  });
});

describe('MWI relay', { timeout: 60_000 }, () => {
  it('the app-server\'s NOTIFY reaches every registered device of the AoR in parallel through its Path; the first 2xx is the app-server\'s answer', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['b']);
    const desk = await new Ua('b', domain, 'b-password-1', h().proxy.address()).start();
    started.push(desk);
    expect((await desk.register()).final.status).toBe(200);
    const sending = app.send(mwi(app, `b@${domain}`, true), { auth: false });
    const [onPhone, onDesk] = await Promise.all([p.b!.ua.next('NOTIFY'), desk.next('NOTIFY')]);
    for (const [n, ua] of [[onPhone, p.b!.ua], [onDesk, desk]] as const) {
      expect(n.req.uri).toBe(ua.contact);
      expect(n.req.get('event')).toBe('message-summary');
      expect(n.req.get('content-type')).toBe('application/simple-message-summary');
      expect(n.req.body.toString()).toContain('Messages-Waiting: yes');
      // the proxy's Via on top of the app-server's (stateful), the binding's Path as Route
      expect(n.req.vias()).toHaveLength(2);
      expect(n.req.getAll('route')).toEqual([ua.path]);
    }
    desk.answer(onDesk, 480, false);
    p.b!.ua.answer(onPhone, 200, false);
    const r = await sending;
    expect(r.final.status).toBe(200);
    expect(await metric('proxy_mwi_notify_total')).toMatch(/result="delivered"\} 1/);
  });

  it('no device takes it: the best final (486 over 480); an AoR without a binding: 404', async () => {
    const app = await appserver();
    const { domain, p } = await parties(['b', 'c'], ['c']);
    const sending = app.send(mwi(app, `b@${domain}`, false), { auth: false });
    p.b!.ua.answer(await p.b!.ua.next('NOTIFY'), 486, false);
    expect((await sending).final.status).toBe(486);
    expect((await app.send(mwi(app, `c@${domain}`, true), { auth: false })).final.status).toBe(404);
    expect((await app.send(mwi(app, `nobody@${domain}`, true), { auth: false })).final.status).toBe(404);
    const m = await metric('proxy_mwi_notify_total');
    expect(m).toMatch(/result="failed"\} 1/);
    expect(m).toMatch(/result="no-binding"\} 2/);
  });

  it('a NOTIFY from anyone but the app-server (a subscriber\'s phone, the app-server\'s address on another port) gets 403 and reaches no device', async () => {
    await appserver();
    const { domain, p } = await parties(['a', 'b']);
    const spoof = (ua: Ua) => {
      const req = ua.build('NOTIFY', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Event', 'message-summary']]);
      req.setBody('Messages-Waiting: yes\r\n', 'application/simple-message-summary');
      return ua.send(req, { auth: false });
    };
    expect((await spoof(p.a!.ua)).final.status).toBe(403);
    const otherPort = await new PeerUa(APPSERVER, h().proxy.address(), 'voicebox').start();
    started.push(otherPort);
    expect((await spoof(otherPort)).final.status).toBe(403);
    await new Promise((r) => setTimeout(r, 200));
    expect(p.b!.ua.pending('NOTIFY')).toBe(0);
    expect(await metric('proxy_mwi_notify_total')).toMatch(/result="forbidden"\} 2/);
    // another event package out of a dialog stays 481
    const other = p.a!.ua.build('NOTIFY', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Event', 'dialog']]);
    expect((await p.a!.ua.send(other, { auth: false })).final.status).toBe(481);
  });
});
