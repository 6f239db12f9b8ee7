/**
 * The proxy with `sbc.enable` (docs/sbc.md), the sbc played by a test UA on the configured
 * address: the A leg is authenticated and handed to the sbc with the proxy's own X-NGCP-
 * fields only (a caller's are removed: no spoofed `X-NGCP-Caller`), without call record,
 * media or accounting; the B leg from the sbc's address is not challenged, is routed to the
 * callee without any X-NGCP- field, gets media and the call's only accounting; the same
 * fields from any other source earn a 407.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { redisKeys } from '@ngcp/db';
import { freePort } from '@ngcp/testkit';
import { provision, until, useHarness } from './harness.js';
import { PeerUa, sdp, Ua } from './ua.js';

let sbcPort = 0;
const APPSERVER = '127.0.0.66';
let appPort = 0;
const h = useHarness(async () => {
  sbcPort = await freePort({ udp: true, host: '127.0.0.1' });
  appPort = await freePort({ udp: true, host: APPSERVER });
  return { sbc: { enable: true, address: `127.0.0.1:${sbcPort}`, profile: 'p1' }, appserver: { address: `${APPSERVER}:${appPort}` } };
});
const started: Ua[] = [];
afterEach(async () => {
  for (const u of started.splice(0)) await u.stop();
});

async function ua(user: string, domain: string, password: string, port = 0): Promise<Ua> {
  const u = await new Ua(user, domain, password, h().proxy.address()).start(port);
  started.push(u);
  return u;
}

const ngcpFields = (req: { headers: Array<{ key: string }> }): string[] => req.headers.map((x) => x.key).filter((k) => k.startsWith('x-ngcp-'));

describe('proxy with the sbc (sbc.enable)', () => {
  it('A leg: authenticated, to the sbc with the proxy’s fields only; B leg from the sbc: unchallenged, routed, media and accounting once', async () => {
    const domain = await provision(h(), [{ username: 'a', password: 'a-password' }, { username: 'b', password: 'b-password' }]);
    const a = await ua('a', domain, 'a-password');
    const b = await ua('b', domain, 'b-password');
    expect((await b.register()).final.status).toBe(200);
    // the sbc: a UA on the configured address, sending its B leg as the caller (From = a's AoR)
    const sbc = await ua('a', domain, 'unused', sbcPort);

    const spoofed: Array<[string, string]> = [['Contact', `<${a.contact}>`], ['X-NGCP-Caller', 'peer:1'], ['X-NGCP-SBC-Profile', 'evil']];
    const calling = a.send(a.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, spoofed, sdp(4000)));
    const aLeg = await sbc.next('INVITE');
    const aCallId = aLeg.req.callId();
    expect(aLeg.req.getAll('x-ngcp-caller')).toEqual(['sub']);
    expect(aLeg.req.getAll('x-ngcp-sbc-profile')).toEqual(['p1']);
    expect(aLeg.req.uri).toBe(`sip:b@${domain}`);
    expect(aLeg.req.body.toString()).toContain('c=IN IP4 127.0.0.1'); // no media on the A leg
    expect(h().media.of(aCallId)).toEqual([]);
    expect(await h().redis.exists(redisKeys.call(aCallId))).toBe(0);
    expect(b.pending('INVITE')).toBe(0);

    // the B leg: a new call from the sbc's address, not challenged
    const bCalling = sbc.send(sbc.build('INVITE', `sip:b@${domain}`, `<sip:b@${domain}>`, [['Contact', `<${sbc.contact}>`], ['X-NGCP-Caller', 'sub'], ['X-NGCP-A-Call-ID', aCallId]], sdp(4000)), { auth: false });
    const inc = await b.next('INVITE');
    const bCallId = inc.req.callId();
    expect(bCallId).not.toBe(aCallId);
    expect(ngcpFields(inc.req)).toEqual([]);
    expect(inc.req.body.toString()).toContain('c=IN IP4 203.0.113.1');
    const bDialog = b.answer(inc, 200)!;
    const bLeg = await bCalling;
    expect(bLeg.final.status).toBe(200);
    expect(await h().redis.hget(redisKeys.call(bCallId), 'caller')).toBe(`a@${domain}`);
    // the call is known by the caller's Call-ID too: GET /api/calls shows it beside the B leg's
    expect(await h().redis.hget(redisKeys.call(bCallId), 'caller_call_id')).toBe(aCallId);
    const live = (await h().api('GET', '/api/calls')).data.items as Array<{ call_id: string; caller_call_id: string | null }>;
    expect(live.find((c) => c.call_id === bCallId)?.caller_call_id).toBe(aCallId);

    // the sbc answers the A leg
    sbc.answer(aLeg, 200);
    expect((await calling).final.status).toBe(200);
    // B hangs up: the BYE reaches the sbc (its Contact), the call ends
    expect((await b.inDialog(bDialog)).status).toBe(200);
    // accounted once, under the caller's Call-ID (the one a's phone and the CDR show), nothing under the B leg's
    const rows = await until(async () => {
      const r = await h().db('acc').where('callid', aCallId).orderBy('id').select('method', 'sip_code', 'src_user');
      return r.length >= 2 ? r : undefined;
    }, 'acc start + stop under the A leg\'s Call-ID');
    expect(rows!.map((r: { method: string; sip_code: string; src_user: string }) => [r.method, r.sip_code, r.src_user])).toEqual([['INVITE', '200', 'a'], ['BYE', '200', 'a']]);
    expect(await h().db('acc').where('callid', bCallId).count({ n: '*' }).first()).toEqual({ n: 0 });
  });

  it('the voicemail number: the A leg goes to the sbc as dialled, its B leg to the caller\'s box (vm-retrieve.<id>)', async () => {
    const domain = await provision(h(), [{ username: 'e', password: 'e-password' }]);
    const e = await ua('e', domain, 'e-password');
    const id = (await h().api('GET', `/api/subscribers?domain=${domain}&username=e`)).data.items[0].id as number;
    const sbc = await ua('e', domain, 'unused', sbcPort);
    const app = await new PeerUa(APPSERVER, h().proxy.address(), 'voicebox').start(appPort);
    started.push(app);
    const calling = e.send(e.build('INVITE', `sip:2000@${domain}`, `<sip:2000@${domain}>`, [['Contact', `<${e.contact}>`]], sdp(4000)));
    const aLeg = await sbc.next('INVITE');
    expect(aLeg.req.uri).toBe(`sip:2000@${domain}`);
    expect(app.pending('INVITE')).toBe(0);
    const bCalling = sbc.send(sbc.build('INVITE', `sip:2000@${domain}`, `<sip:2000@${domain}>`, [['Contact', `<${sbc.contact}>`], ['X-NGCP-Caller', 'sub']], sdp(4000)), { auth: false });
    const inc = await app.next('INVITE');
    expect(inc.req.uri).toBe(`sip:vm-retrieve.${id}@${APPSERVER}:${appPort}`);
    app.answer(inc, 200);
    expect((await bCalling).final.status).toBe(200);
    sbc.answer(aLeg, 200);
    expect((await calling).final.status).toBe(200);
  });

  it('the same fields from any other source are not trusted: 407', async () => {
    const domain = await provision(h(), [{ username: 'c', password: 'c-password' }, { username: 'd', password: 'd-password' }]);
    const c = await ua('c', domain, 'c-password');
    const r = await c.send(c.build('INVITE', `sip:d@${domain}`, `<sip:d@${domain}>`, [['Contact', `<${c.contact}>`], ['X-NGCP-Caller', 'sub']], sdp(4000)), { auth: false });
    expect(r.final.status).toBe(407);
  });
});
