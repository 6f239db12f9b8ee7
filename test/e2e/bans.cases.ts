/**
 * Issue #10 "Protection at the lb", end to end on one node brought up by the real `ngcp up`
 * (thresholds low enough to hit, unlike E2E_SECTIONS; run by sbc-bans.test.ts after the sbc
 * cases, on their node, so the calls here cross the sbc too):
 *   - a source flooding the lb (sipp -i 127.0.0.3, OPTIONS at 10× security.ipban.max_requests)
 *     is banned — listed in GET /api/bannedips, its packets unanswered — while a second source
 *     (127.0.0.4: caller and callee) places calls through lb → proxy (→ sbc) → mediactl with 0 failed;
 *     DELETE /api/bannedips/127.0.0.3 and the source is answered again;
 *   - a user whose password is guessed (sipp from 127.0.0.5) is banned after
 *     security.userban.max_failures — listed in GET /api/bannedusers, its REGISTER from
 *     another address answered 403 without a challenge even with the right password —
 *     lifted through the API, then registers fine.
 * Nothing here is exempt: every source is a loopback address, banned like any other.
 */
import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { newBranch, newCallId, newTag } from '@ngcp/sip';
import { freePort } from '@ngcp/testkit';
import { until } from '@ngcp/cli/testing';
import { PUBLIC, SIP_DAEMONS, builtDaemon, type E2eNode } from './node.js';
import { useProvisionedNode } from './harness.js';
import { DOMAIN, type Sub, type SubName } from './provision.js';
import { bound } from './sipp.js';

const FLOODER = '127.0.0.3';
const LEGIT = '127.0.0.4';
const GUESSER = '127.0.0.5';
const OTHER = '127.0.0.6';
const MAX_REQUESTS = 200; // per second and source
const SECTIONS = {
  security: {
    ipban: { enable: true, window_ms: 1000, max_requests: MAX_REQUESTS, ban_s: 120 },
    userban: { enable: true, max_failures: 3, source_max_failures: 50, window_s: 120, ban_s: 120 },
  },
};

let node: E2eNode;
let subs: Record<SubName, Sub>;
const ready = SIP_DAEMONS.every(builtDaemon);

const { run, lb } = useProvisionedNode((n, s) => {
  node = n;
  subs = s;
}, { sections: SECTIONS, when: ready });


/** One OPTIONS to the lb itself from `from`: the status of the answer, undefined if none within waitMs. */
async function ping(from: string, waitMs = 3000): Promise<number | undefined> {
  const s = createSocket('udp4');
  let status: number | undefined;
  s.on('message', (b) => {
    status ??= Number(/^SIP\/2\.0 (\d{3})/.exec(b.toString('latin1'))?.[1]);
  });
  await new Promise<void>((r) => s.bind(0, from, () => r()));
  try {
    const port = s.address().port;
    const req = [
      `OPTIONS sip:${PUBLIC}:${node.sip.port} SIP/2.0`, `Via: SIP/2.0/UDP ${from}:${port};branch=${newBranch()};rport`, 'Max-Forwards: 70',
      `From: <sip:probe@${from}>;tag=${newTag()}`, `To: <sip:${PUBLIC}:${node.sip.port}>`, `Call-ID: ${newCallId(from)}`, 'CSeq: 1 OPTIONS', 'Content-Length: 0', '', '',
    ].join('\r\n');
    await new Promise<void>((r, j) => s.send(Buffer.from(req), node.sip.port, PUBLIC, (e) => (e ? j(e) : r())));
    const end = Date.now() + waitMs;
    while (status === undefined && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    return status;
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
}

type Ban = { id: string; reason: string; expires_in: number | null };
const bans = async (what: 'bannedips' | 'bannedusers'): Promise<Ban[]> => (await node.api.ok<{ items: Ban[] }>('GET', `/api/${what}?rows=100`)).items;

async function lbMetrics(): Promise<string> {
  return (await fetch(`http://127.0.0.2:${node.t.ports.lb_control!}/metrics`)).text();
}
const metric = (text: string, name: RegExp): number => Number(name.exec(text)?.[1] ?? 0);

describe.runIf(ready)('protection at the lb (issue #10)', { timeout: 180_000 }, () => {
  it('a source flooding at 10× the threshold is banned (listed, unanswered) while another source completes its calls with 0 failed; DELETE lifts it', async () => {
    expect(await ping(FLOODER)).toBe(200);
    // the callee at the second source, registered there
    const bob = subs.bob;
    const uasPort = await freePort({ udp: true, host: LEGIT });
    const CALLS = 20;
    const reg = await run({
      scenario: 'uac-register-expect-200.xml', remote: lb(), localIp: LEGIT, localPort: uasPort,
      auth: { user: bob.user, password: bob.password, uri: DOMAIN }, keys: { user: bob.user, contact_host: LEGIT, expires: 300 },
    }).done;
    expect(reg.code, reg.report).toBe(0);
    const uas = run({ scenario: 'uas-answer-expect-bye.xml', localIp: LEGIT, localPort: uasPort, calls: CALLS, keys: { user: bob.user, contact_host: LEGIT }, limitMs: 120_000 });
    await bound(uasPort);

    // the flood: 10× max_requests per second for 4 s, from its own address
    const flood = run({ scenario: 'uac-options-flood.xml', remote: lb(), localIp: FLOODER, localPort: await freePort({ udp: true, host: FLOODER }), calls: MAX_REQUESTS * 10 * 4, rate: MAX_REQUESTS * 10, maxOpen: MAX_REQUESTS * 10 * 4, limitMs: 30_000 });
    // meanwhile alice calls bob from the second source, 5 calls/s (≈ 8 packets per call from that address: well under the threshold)
    const uac = run({
      scenario: 'uac-call-expect-200.xml', remote: lb(), localIp: LEGIT, localPort: await freePort({ udp: true, host: LEGIT }), service: bob.user,
      auth: { user: subs.alice.user, password: subs.alice.password, uri: `${bob.user}@${DOMAIN}` }, keys: { user: subs.alice.user, contact_host: LEGIT, rtp_port: 9 },
      calls: CALLS, rate: 5, maxOpen: CALLS, pauseMs: 200, limitMs: 90_000,
    });
    const [legit, flooded] = await Promise.all([uac.done, flood.done]);
    expect(legit.failed, legit.report).toBe(0);
    expect(legit.successful, legit.report).toBe(CALLS);
    expect((await uas.done).failed).toBe(0);
    expect(flooded.successful).toBeGreaterThan(MAX_REQUESTS * 10); // sipp did send the flood (a one-send scenario succeeds on sending)

    const ips = await bans('bannedips');
    expect(ips.map((b) => b.id)).toEqual([FLOODER]);
    expect(ips[0]).toMatchObject({ reason: 'flood' });
    expect(ips[0]!.expires_in).toBeGreaterThan(60);
    expect(await ping(FLOODER, 500)).toBeUndefined();
    expect(await ping(LEGIT)).toBe(200);
    const m = await lbMetrics();
    expect(metric(m, /^sip_drops_total\{reason="refused",daemon="lb"\} (\d+)$/m), m.split('\n').filter((l) => /drops|ipban/.test(l)).join('\n')).toBeGreaterThan(MAX_REQUESTS * 10);
    expect(metric(m, /^lb_ipbans_total\{daemon="lb"\} (\d+)$/m)).toBe(1);

    // lifted through the API: answered again at once
    expect((await node.api.request('DELETE', `/api/bannedips/${FLOODER}`)).status).toBe(204);
    expect(await until(async () => ((await ping(FLOODER, 1000)) === 200 ? true : undefined), 10_000, 100)).toBe(true);
    expect(await bans('bannedips')).toEqual([]);
  });

  it('a brute-forced user is banned (listed; 403 without a challenge even with the right password, from anywhere), lifted through the API, then registers', async () => {
    const carol = subs.carol;
    for (let i = 0; i < 3; i++) {
      const r = await run({
        scenario: 'uac-register-wrong-password-expect-403.xml', remote: lb(), localIp: GUESSER, localPort: await freePort({ udp: true, host: GUESSER }),
        auth: { user: carol.user, password: `guess-${i}`, uri: DOMAIN }, keys: { user: carol.user, contact_host: GUESSER },
      }).done;
      expect(r.code, r.report).toBe(0);
    }
    const users = await bans('bannedusers');
    expect(users.map((b) => b.id)).toEqual([carol.aor]);
    expect(users[0]).toMatchObject({ reason: 'auth failures' });
    // the guessing source itself is below source_max_failures: not banned
    expect((await bans('bannedips')).map((b) => b.id)).not.toContain(GUESSER);

    const port = await freePort({ udp: true, host: OTHER });
    const banned = await run({ scenario: 'uac-register-banned-expect-403.xml', remote: lb(), localIp: OTHER, localPort: port, keys: { user: carol.user, contact_host: OTHER } }).done;
    expect(banned.code, banned.report).toBe(0);
    // bob (not banned) registers from the same address
    const bobOk = await run({
      scenario: 'uac-register-expect-200.xml', remote: lb(), localIp: OTHER, localPort: await freePort({ udp: true, host: OTHER }),
      auth: { user: subs.bob.user, password: subs.bob.password, uri: DOMAIN }, keys: { user: subs.bob.user, contact_host: OTHER, expires: 60 },
    }).done;
    expect(bobOk.code, bobOk.report).toBe(0);

    expect((await node.api.request('DELETE', `/api/bannedusers/${encodeURIComponent(carol.aor)}`)).status).toBe(204);
    expect(await bans('bannedusers')).toEqual([]);
    const ok = await run({
      scenario: 'uac-register-expect-200.xml', remote: lb(), localIp: OTHER, localPort: port,
      auth: { user: carol.user, password: carol.password, uri: DOMAIN }, keys: { user: carol.user, contact_host: OTHER, expires: 60 },
    }).done;
    expect(ok.code, ok.report).toBe(0);
    expect((await node.api.registration(carol.aor))?.contacts.some((c) => c.contact.includes(`${OTHER}:${port}`))).toBe(true);
  });
});
