/**
 * The sbc process (apps/sbc/dist/main.js, config from NGCP_SBC_CONFIG) between two sipp
 * user agents, with a private Redis: A (the caller's side, where the proxy hands calls
 * over) sends to the sbc; the sbc's "proxy" is B's sipp, so the B leg arrives there.
 * Checked on the wire (sipp's message traces): nothing of one leg's path (Call-ID, tags,
 * Via, Contact, ports) nor any internal field reaches the other; re-INVITE, INFO, BYE from
 * either side, CANCEL, REFER refused; the call length limit; `calls.teardown`; a sbc
 * killed mid-call and restarted still ends the call (its legs are in Redis); session
 * timers (RFC 4028): refreshes keep a call up, a leg that stops answering ends it on both
 * sides, 422 both ways, and a restarted sbc carries the timers on.
 */
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from '@ngcp/cli/testing';
import { RpcClient } from '@ngcp/rpc';
import { freePort, startRedis, type RedisInstance } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sipp, type SippOptions, type SippResult, type SippRun } from '../e2e/sipp.js';
import { startSbcProcess, stopSbcProcess, waitHealthy, type SbcProcess } from './process.js';
const HOST = '127.0.0.1';

let redis: RedisInstance;
let dir: string;
let sbcPort: number;
let controlPort: number;
let bPort: number;
let aPort: number;
let rpc: RpcClient;
let sbc: SbcProcess | undefined;
const runs: SippRun[] = [];

const startSbc = (): SbcProcess => startSbcProcess(join(dir, 'sbc.yml'));
const healthy = (): Promise<void> => waitHealthy(rpc, sbc);

beforeAll(async () => {
  redis = await startRedis({ password: 'sbc"pw' });
  dir = mkdtempSync(join(tmpdir(), 'ngcp-sbc-'));
  sbcPort = await freePort({ udp: true, host: HOST });
  bPort = await freePort({ udp: true, host: HOST });
  aPort = await freePort({ udp: true, host: HOST });
  controlPort = await freePort({ tcp: true, host: HOST });
  writeFileSync(join(dir, 'sbc.yml'), [
    'node: t1',
    `listen: { address: ${HOST}, udp_port: ${sbcPort} }`,
    `control: { address: ${HOST}, port: ${controlPort} }`,
    'log: { level: info }',
    `proxy: "${HOST}:${bPort}"`,
    'profiles:',
    '  default: {}',
    '  short: { max_call_length_s: 2 }',
    '  translating: { reply_translation: { "503": { code: 480, reason: "Temporarily Unavailable" }, "487": { code: 486 } } }',
    '  nopcma: { codecs_deny: [PCMA] }',
    '  nopcmu: { codecs_deny: [pcmu] }',
    // session timers with intervals short enough for a test (the floor of min_se_s is 1 s)
    '  timers: { session_timer_s: 2, min_se_s: 2 }',
    '  timers6: { session_timer_s: 6, min_se_s: 2 }',
    `redis: { host: ${HOST}, port: ${redis.port}, password: ${JSON.stringify(redis.password)}, db: 0 }`,
    '',
  ].join('\n'));
  rpc = new RpcClient(`http://${HOST}:${controlPort}/`, { timeoutMs: 5000 });
  sbc = startSbc();
  await healthy();
}, 120_000);

afterAll(async () => {
  for (const r of runs) r.kill();
  rpc?.close();
  await stopSbcProcess(sbc);
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

const KEYS = { user: 'alice', domain: 'sbc.test', rtp_port: 4000, profile: 'default' };

function run(o: Omit<SippOptions, 'scenario'> & { scenario: string }): SippRun {
  const r = sipp({ ...o, scenario: join('../../sbc/scenarios', o.scenario), localIp: HOST, keys: { ...KEYS, ...o.keys } });
  runs.push(r);
  return r;
}

/** B (callee's side) listening, then A calling through the sbc; both results. */
async function call(a: string, b: string, o: { pauseMs?: number; bPauseMs?: number; profile?: string; during?: (aRun: SippRun) => Promise<void> } = {}): Promise<[SippResult, SippResult]> {
  const bRun = run({ scenario: b, localPort: bPort, keys: { user: 'bob' }, ...(o.bPauseMs !== undefined ? { pauseMs: o.bPauseMs } : {}), limitMs: 40_000 });
  await new Promise((r) => setTimeout(r, 300));
  const aRun = run({
    scenario: a, remote: { address: HOST, port: sbcPort }, localPort: aPort, service: 'bob', limitMs: 40_000,
    ...(o.pauseMs !== undefined ? { pauseMs: o.pauseMs } : {}), ...(o.profile ? { keys: { profile: o.profile } } : {}),
  });
  if (o.during) await o.during(aRun);
  return Promise.all([aRun.done, bRun.done]);
}

function expectOk(r: SippResult): void {
  expect(r.code, r.report).toBe(0);
  expect(r.successful, r.report).toBe(1);
}

/** Call-IDs and tags a trace shows (every message of the one call it made). */
function idsOf(trace: string): { callIds: Set<string>; tags: Set<string> } {
  return {
    callIds: new Set([...trace.matchAll(/^Call-ID:\s*(\S+)/gim)].map((m) => m[1]!)),
    tags: new Set([...trace.matchAll(/;tag=([^;>\s]+)/gi)].map((m) => m[1]!)),
  };
}

/** The messages a sipp trace shows as received (its own sent ones left out). */
function received(trace: string): string {
  return trace.split(/^-{20,}.*$/m).filter((block) => /message received/.test(block)).join('\n');
}

const metricsText = async (): Promise<string> => (await fetch(`http://${HOST}:${controlPort}/metrics`)).text();

interface CallSummary { id: string; a: { call_id: string }; b: { call_id: string }; profile: string }
const listCalls = async (): Promise<CallSummary[]> => (await rpc.call<{ calls: CallSummary[] }>('calls.list')).calls;
/** The call list once the call is up: exactly one call. */
async function theOneCall(): Promise<CallSummary[]> {
  const l = await until(async () => {
    const c = await listCalls();
    return c.length > 0 ? c : undefined;
  }, 10_000);
  expect(l).toHaveLength(1);
  return l!;
}

describe('sbc between two UAs', () => {
  it('relays a call with re-INVITE and INFO, refuses REFER, and shows neither leg anything of the other (on the wire)', async () => {
    const [a, b] = await call('uac-sbc-full-expect-200.xml', 'uas-sbc-full-expect-bye.xml', { pauseMs: 200 });
    expectOk(a);
    expectOk(b);
    const A = idsOf(a.messages);
    const B = idsOf(b.messages);
    expect(A.callIds.size).toBe(1);
    expect(B.callIds.size).toBe(1);
    const [aCallId] = [...A.callIds];
    const [bCallId] = [...B.callIds];
    expect(bCallId).not.toBe(aCallId);
    // A's Call-ID, tags and port never reach B; B's never reach A
    expect(b.messages).not.toContain(aCallId!);
    expect(a.messages).not.toContain(bCallId!);
    const aOwnTag = [...A.tags].find((t) => t.includes('SIPpTag00'))!;
    const bOwnTag = [...B.tags].find((t) => t.includes('SIPpTag01'))!;
    expect(b.messages).not.toContain(aOwnTag);
    expect(a.messages).not.toContain(bOwnTag);
    expect(b.messages).not.toContain(`:${aPort}`);
    expect(a.messages).not.toContain(`:${bPort}`);
    // internal fields and fields outside the whitelist stay on their side
    const toA = received(a.messages);
    const toB = received(b.messages);
    expect(toB).toMatch(/^INVITE /m);
    expect(toA).toMatch(/^SIP\/2.0 200 OK/m);
    expect(toB).not.toMatch(/X-NGCP|P-NGCP|secret-from-a|sbc-test-a|100rel/i);
    expect(toA).not.toMatch(/X-NGCP|secret-from-b|sbc-test-b/i);
    // what the whitelist lets through does pass, and so do the bodies
    expect(b.messages).toMatch(/^Allow: INVITE, ACK, BYE, CANCEL, UPDATE, INFO/m);
    expect(b.messages).toMatch(/^Supported: timer\s*$/m);
    expect(b.messages).toContain('Signal=5');
    expect(b.messages).toMatch(/o=- 2 2 IN IP4/);
    expect(b.messages).not.toMatch(/^REFER /m);
    expect(a.messages).toMatch(/SIP\/2.0 403 REFER Not Allowed/);
    // the call is gone after the BYE
    expect(await listCalls()).toEqual([]);
  });

  it('relays a BYE from the callee', async () => {
    const [a, b] = await call('uac-sbc-call-expect-bye.xml', 'uas-sbc-answer-then-bye.xml', { bPauseMs: 500 });
    expectOk(a);
    expectOk(b);
    expect(await listCalls()).toEqual([]);
  });

  it('relays a CANCEL: the callee sees it, the caller gets 487', async () => {
    const [a, b] = await call('uac-sbc-cancel-expect-487.xml', 'uas-sbc-ring-expect-cancel.xml');
    expectOk(a);
    expectOk(b);
    expect(await listCalls()).toEqual([]);
  });

  it('ends a call at its profile’s call length limit with a BYE on both legs', async () => {
    const started = Date.now();
    let seen: CallSummary[] = [];
    const [a, b] = await call('uac-sbc-call-expect-bye.xml', 'uas-sbc-answer-expect-bye.xml', {
      profile: 'short',
      during: async () => {
        seen = (await until(async () => {
          const l = await listCalls();
          return l.length > 0 ? l : undefined;
        }, 10_000)) ?? [];
      },
    });
    expectOk(a);
    expectOk(b);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.profile).toBe('short');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(2000);
    expect(took).toBeLessThan(10_000);
    expect(a.messages).toMatch(/Reason: SIP;cause=200;text="call length limit"/);
    expect(await listCalls()).toEqual([]);
    const metrics = await metricsText();
    expect(metrics).toMatch(/sbc_teardowns_total\{reason="call length limit"[^}]*\} 1/);
    expect(metrics).toMatch(/sbc_requests_total\{method="INVITE"/);
  });

  it('calls.teardown ends a call by id on both legs; an unknown id is an error', async () => {
    const [a, b] = await call('uac-sbc-call-expect-bye.xml', 'uas-sbc-answer-expect-bye.xml', {
      during: async () => {
        const l = await theOneCall();
        // the answered call counts once: in Redis, no longer as early (sbc_legs_live = 2 × both)
        expect(await rpc.call('stats')).toMatchObject({ calls: 1, early: 0 });
        const metrics = await metricsText();
        expect(metrics).toMatch(/^sbc_calls_live\{[^}]*state="early"[^}]*\} 0$/m);
        expect(metrics).toMatch(/^sbc_legs_live(\{[^}]*\})? 2$/m);
        expect(await rpc.call('calls.teardown', { id: l[0]!.id })).toEqual({ id: l[0]!.id, a: 200, b: 200 });
      },
    });
    expectOk(a);
    expectOk(b);
    await expect(rpc.call('calls.teardown', { id: 'nope' })).rejects.toThrow(/no call nope/);
    await expect(rpc.call('calls.teardown', {})).rejects.toThrow(/params.id/);
  });

  it('a sbc killed mid-call and restarted ends the call: BYE from the caller, 200 on both sides', async () => {
    const [a, b] = await call('uac-sbc-call-expect-200.xml', 'uas-sbc-answer-expect-bye.xml', {
      pauseMs: 6000,
      during: async () => {
        const l = await theOneCall();
        const old = sbc!;
        old.child.kill('SIGKILL');
        await old.exited;
        sbc = startSbc();
        await healthy();
        expect((await listCalls()).map((c) => c.id)).toEqual([l[0]!.id]);
      },
    });
    expectOk(a);
    expectOk(b);
    expect(await listCalls()).toEqual([]);
  });
});

describe('a sbc killed while a call rings or a re-INVITE waits for its answer: the restarted one carries it on from Redis', () => {
  /** Once the call rings (A got the 180 through the sbc): SIGKILL, start again, healthy. */
  async function killWhileRinging(aRun: SippRun): Promise<void> {
    await aRun.logged('RINGING', 10_000);
    expect((await rpc.call<{ early: number }>('stats')).early).toBe(1);
    await killAndRestart();
  }
  async function killAndRestart(): Promise<void> {
    const old = sbc!;
    old.child.kill('SIGKILL');
    await old.exited;
    sbc = startSbc();
    await healthy();
  }
  /** The To-tag of A's responses with this status (sipp's trace of what A received). */
  const toTags = (trace: string, status: number): string[] =>
    received(trace).split(/^(?=SIP\/2\.0 )/m).filter((m) => m.startsWith(`SIP/2.0 ${status} `)).map((m) => /^To:.*;tag=([^;>\s]+)/im.exec(m)?.[1] ?? '');
  const takeovers = async (event: string): Promise<number> => Number(new RegExp(`^sbc_takeover_total\\{[^}]*event="${event}"[^}]*\\} (\\d+)$`, 'm').exec(await metricsText())?.[1] ?? 0);

  it('B answers after the restart: A gets the 200 (with the To-tag of the 180 it saw), ACK reaches B, a BYE ends the call on both sides', async () => {
    const [a, b] = await call('uac-sbc-call-expect-200.xml', 'uas-sbc-ring-then-answer-expect-bye.xml', { bPauseMs: 3000, pauseMs: 1000, during: killWhileRinging });
    expectOk(a);
    expectOk(b);
    const ringing = toTags(a.messages, 180);
    expect(ringing.length).toBeGreaterThan(0);
    expect(new Set([...ringing, ...toTags(a.messages, 200)])).toEqual(new Set([ringing[0]]));
    expect(await takeovers('answered')).toBe(1);
    expect(await listCalls()).toEqual([]);
  });

  it('B fails after the restart: B gets its ACK, A gets the failure as the profile translates it (503 → 480) and ACKs it', async () => {
    const [a, b] = await call('uac-sbc-call-expect-error.xml', 'uas-sbc-ring-then-reject-503.xml', { bPauseMs: 3000, profile: 'translating', during: killWhileRinging });
    expectOk(a);
    expectOk(b);
    expect(received(a.messages)).toMatch(/^SIP\/2\.0 480 Temporarily Unavailable/m);
    expect(await takeovers('failed')).toBe(1);
    expect(await listCalls()).toEqual([]);
  });

  it('a re-INVITE relayed to B when the sbc dies: the restarted one relays B\'s 200 to A, A\'s ACK reaches B, a BYE ends the call', async () => {
    const [a, b] = await call('uac-sbc-reinvite-expect-200.xml', 'uas-sbc-reinvite-late-expect-bye.xml', {
      bPauseMs: 3000, pauseMs: 500,
      // A's 100 Trying for the re-INVITE: the sbc has relayed it
      during: async (aRun) => {
        await aRun.logged('TRYING', 10_000);
        await killAndRestart();
      },
    });
    expectOk(a);
    expectOk(b);
    expect(await takeovers('reinvite')).toBe(1);
    expect(await listCalls()).toEqual([]);
  });

  it('A cancels after the restart: 200 for the CANCEL, B sees it, A gets 487 (never translated)', async () => {
    const [a, b] = await call('uac-sbc-ring-cancel-later-expect-487.xml', 'uas-sbc-ring-expect-cancel.xml', { pauseMs: 3000, profile: 'translating', during: killWhileRinging });
    expectOk(a);
    expectOk(b);
    expect(await takeovers('cancel')).toBe(1);
    expect(await listCalls()).toEqual([]);
  });
});

describe('sbc profile features', () => {
  it('translates a final reply of B for A (503 → 480); B gets the ACK of its 503', async () => {
    const [a, b] = await call('uac-sbc-call-expect-error.xml', 'uas-sbc-reject-503.xml', { profile: 'translating' });
    expectOk(a);
    expectOk(b);
    const toA = received(a.messages);
    expect(toA).toMatch(/^SIP\/2.0 480 Temporarily Unavailable/m);
    expect(toA).not.toMatch(/503/);
    expect(toA).toMatch(/^Reason: Q.850;cause=34/m); // whitelisted fields of B's answer still pass
    expect(received(b.messages)).toMatch(/^ACK /m);
    expect(await listCalls()).toEqual([]);
    const metrics = await metricsText();
    expect(metrics).toMatch(/sbc_responses_total\{method="INVITE",status="480"[^}]*\} 1/);
  });

  it('never translates the 487 of a cancelled INVITE: the caller who cancelled gets 487', async () => {
    const [a, b] = await call('uac-sbc-cancel-expect-487.xml', 'uas-sbc-ring-expect-cancel.xml', { profile: 'translating' });
    expectOk(a);
    expectOk(b);
    expect(received(a.messages)).not.toMatch(/^SIP\/2.0 486/m);
  });

  it('a profile without a translation passes the 503 as it came', async () => {
    const [a, b] = await call('uac-sbc-call-expect-error.xml', 'uas-sbc-reject-503.xml');
    expectOk(a);
    expectOk(b);
    expect(received(a.messages)).toMatch(/^SIP\/2.0 503 Service Unavailable/m);
  });
});

describe('sbc codec filter', () => {
  it('removes a denied codec from the offer B gets and from the answer A gets (on the wire)', async () => {
    const [a, b] = await call('uac-sbc-codecs-expect-200.xml', 'uas-sbc-codecs-answer-expect-bye.xml', { profile: 'nopcma' });
    expectOk(a);
    expectOk(b);
    const toB = received(b.messages);
    const toA = received(a.messages);
    expect(toB).toMatch(/^INVITE /m);
    expect(toB).toMatch(/^m=audio 4000 RTP\/AVP 0 101\s*$/m);
    expect(toB).toMatch(/^a=rtpmap:0 PCMU\/8000/m);
    expect(toB).toMatch(/^a=fmtp:101 0-16/m);
    expect(toB).not.toMatch(/PCMA|rtpmap:8 /);
    expect(toA).toMatch(/^SIP\/2.0 200 OK/m);
    expect(toA).toMatch(/^m=audio 4000 RTP\/AVP 0 101\s*$/m);
    expect(toA).not.toMatch(/PCMA|rtpmap:8 /);
    // the profile without a filter passes the SDP as it came
    const [a2, b2] = await call('uac-sbc-codecs-expect-200.xml', 'uas-sbc-codecs-answer-expect-bye.xml');
    expectOk(a2);
    expectOk(b2);
    expect(received(b2.messages)).toMatch(/^m=audio 4000 RTP\/AVP 8 0 101\s*$/m);
  });

  it('answers 488 to an offer left without a codec; nothing reaches B', async () => {
    // B's place (the sbc's "proxy") held by a plain socket that counts what arrives
    const bSock = createSocket('udp4');
    const toB: string[] = [];
    bSock.on('message', (m) => toB.push(m.toString()));
    await new Promise<void>((r) => bSock.bind(bPort, HOST, r));
    try {
      const a = await run({ scenario: 'uac-sbc-call-expect-error.xml', remote: { address: HOST, port: sbcPort }, localPort: aPort, service: 'bob', keys: { profile: 'nopcmu' }, limitMs: 20_000 }).done;
      expectOk(a);
      const toA = received(a.messages);
      expect(toA).toMatch(/^SIP\/2.0 488 Not Acceptable Here/m);
      expect(toA).toMatch(/^Warning: 305 sbc "Incompatible media format"/m);
      await new Promise((r) => setTimeout(r, 300));
      expect(toB).toEqual([]);
    } finally {
      bSock.close();
    }
    const metrics = await metricsText();
    expect(metrics).toMatch(/sbc_responses_total\{method="INVITE",status="488"[^}]*\} 1/);
    expect(await listCalls()).toEqual([]);
  });
});

describe('sbc config', () => {
  const refused = async (lines: string[]): Promise<{ code: number | null; err: string }> => {
    const path = join(dir, 'bad.yml');
    writeFileSync(path, [
      `listen: { address: ${HOST}, udp_port: 0 }`, `control: { address: ${HOST}, port: 0 }`, `proxy: "${HOST}:5060"`,
      `redis: { host: ${HOST}, port: 1, db: 0 }`, ...lines, '',
    ].join('\n'));
    const p = startSbcProcess(path);
    const code = await p.exited;
    return { code, err: p.output() };
  };

  it('a config naming a missing default profile exits 78 naming the key', async () => {
    const r = await refused(['default_profile: nope']);
    expect(r.code).toBe(78);
    expect(r.err).toMatch(/default_profile: names no profile/);
  });

  it('a bad reply translation or codec name exits 78 naming the key', async () => {
    const key = await refused(['profiles: { default: { reply_translation: { "200": { code: 480 } } } }']);
    expect(key.code).toBe(78);
    expect(key.err).toMatch(/profiles\.default\.reply_translation\[200\]: must be a final response code 300\.\.699/);
    const target = await refused(['profiles: { default: { reply_translation: { "503": { code: 200 } } } }']);
    expect(target.code).toBe(78);
    expect(target.err).toMatch(/profiles\.default\.reply_translation\[503\]\.code: must be >= 300/);
    const codec = await refused(['profiles: { default: { codecs_deny: ["PC MA"] } }']);
    expect(codec.code).toBe(78);
    expect(codec.err).toMatch(/profiles\.default\.codecs_deny\[0\]: has a bad format/);
  });
});

const count = (text: string, re: RegExp): number => text.match(re)?.length ?? 0;
/** The value of the one series `re` matches (its group 1); 0 when absent. */
const valueOf = (metrics: string, re: RegExp): number => Number(re.exec(metrics)?.[1] ?? 0);
const REFRESH_FAILED = /sbc_session_refresh_total\{result="failed"[^}]*\} (\d+)/;
const ENDED_BY_TIMER = /sbc_teardowns_total\{reason="session timer expired"[^}]*\} (\d+)/;

/** A call (profile `timers`) with a leg that dies under the session timer: BYE on both legs, one teardown and `failed` refreshes of the sbc counted. */
async function callEndedByTimer(bScenario: string, o: { aScenario?: string; failed?: number } = {}): Promise<{ tookMs: number; a: SippResult }> {
  const before = await metricsText();
  const started = Date.now();
  const [a, b] = await call(o.aScenario ?? 'uac-sbc-timer-answer-refreshes-expect-bye.xml', bScenario, { profile: 'timers' });
  const tookMs = Date.now() - started;
  expectOk(a);
  expectOk(b);
  expect(received(a.messages)).toMatch(/^Reason: SIP;cause=408;text="session timer expired"/m);
  expect(received(b.messages)).toMatch(/^BYE /m);
  expect(await listCalls()).toEqual([]);
  const after = await metricsText();
  expect(valueOf(after, ENDED_BY_TIMER) - valueOf(before, ENDED_BY_TIMER)).toBe(1);
  expect(valueOf(after, REFRESH_FAILED) - valueOf(before, REFRESH_FAILED)).toBe(o.failed ?? 1);
  return { tookMs, a };
}

describe('sbc session timers (RFC 4028)', () => {
  it('refreshes each leg where it is the refresher: the call stays up past 3 intervals, then ends by BYE', async () => {
    const started = Date.now();
    const [a, b] = await call('uac-sbc-timer-answer-6-refreshes-then-bye.xml', 'uas-sbc-timer-answer-refreshes-expect-bye.xml', { profile: 'timers' });
    expectOk(a);
    expectOk(b);
    expect(Date.now() - started).toBeGreaterThanOrEqual(6000); // 3 intervals of 2 s
    const toA = received(a.messages);
    const toB = received(b.messages);
    // B's INVITE asks for the profile's interval; B does no timers and allows no UPDATE: the sbc re-INVITEs it
    // with the SDP B was offered, unchanged (same o= version)
    expect(toB).toMatch(/^Session-Expires: 2\s*$/m);
    expect(toB).toMatch(/^Min-SE: 2\s*$/m);
    expect(toB).toMatch(/^Supported: timer\s*$/m);
    expect(count(toB, /^INVITE /gm)).toBeGreaterThanOrEqual(4);
    expect(new Set(toB.match(/^o=.*$/gm))).toEqual(new Set(['o=- 1 1 IN IP4 127.0.0.1']));
    expect(toB).not.toMatch(/^UPDATE /m);
    // A supports timers and asked for none: the sbc refreshes it, by UPDATE (A allows it); A hung up after the 6th
    expect(toA).toMatch(/^Session-Expires: 2;refresher=uas\s*$/m);
    expect(toA).toMatch(/^Require: timer\s*$/m);
    expect(new Set(toA.match(/^CSeq: \d+ UPDATE/gm)).size).toBe(6); // distinct UPDATEs (a retransmission shows twice)
    expect(await listCalls()).toEqual([]);
    expect(valueOf(await metricsText(), /sbc_session_refresh_total\{result="ok"[^}]*\} (\d+)/)).toBeGreaterThanOrEqual(6 + 3);
  });

  it('retries B’s 422 with its Min-SE, and answers 422 with its own Min-SE to a Session-Expires below it', async () => {
    const [a, b] = await call('uac-sbc-call-expect-200.xml', 'uas-sbc-timer-422-then-answer-expect-bye.xml', { profile: 'timers', pauseMs: 500 });
    expectOk(a);
    expectOk(b);
    const toB = received(b.messages);
    expect([...toB.matchAll(/^Session-Expires: (\S+)/gm)].map((m) => m[1]).slice(0, 2)).toEqual(['2', '3']);
    expect([...toB.matchAll(/^Min-SE: (\S+)/gm)].map((m) => m[1]).slice(0, 2)).toEqual(['2', '3']);
    expect(received(a.messages)).not.toMatch(/^SIP\/2.0 422/m); // B's 422 stays on the B leg
    const small = await run({ scenario: 'uac-sbc-timer-too-small-expect-422.xml', remote: { address: HOST, port: sbcPort }, localPort: aPort, service: 'bob', keys: { profile: 'timers' }, limitMs: 20_000 }).done;
    expectOk(small);
    expect(received(small.messages)).toMatch(/^Min-SE: 2\s*$/m);
  });

  it('a restarted sbc carries the session timers on (they are in Redis)', async () => {
    const [a, b] = await call('uac-sbc-timer-answer-refreshes-expect-bye.xml', 'uas-sbc-timer-answer-refreshes-expect-bye.xml', {
      profile: 'timers6',
      during: async () => {
        const [c] = await theOneCall();
        const old = sbc!;
        old.child.kill('SIGKILL');
        await old.exited;
        sbc = startSbc();
        await healthy();
        // the new process (its counters start at 0) sends both legs' refreshes, due 3 s after the answer
        const refreshed = await until(async () => /sbc_session_refresh_total\{result="ok"[^}]*\} [2-9]/.test(await metricsText()) || undefined, 10_000, 200);
        expect(refreshed).toBe(true);
        expect(await rpc.call('calls.teardown', { id: c!.id })).toEqual({ id: c!.id, a: 200, b: 200 });
      },
    });
    expectOk(a);
    expectOk(b);
    expect(count(received(b.messages), /^INVITE /gm)).toBeGreaterThanOrEqual(2);
    expect(count(received(a.messages), /^UPDATE /gm)).toBeGreaterThanOrEqual(1);
  });

  it('a refresh answered 481 ends the call on both legs', async () => {
    const { tookMs } = await callEndedByTimer('uas-sbc-timer-481-refresh-expect-bye.xml');
    expect(tookMs).toBeLessThan(4500); // the refresh goes at 1 s
  });

  it('a peer that chose to refresh and does not: BYE on both legs min(32 s, interval/3) before its session ends', async () => {
    const { tookMs, a } = await callEndedByTimer('uas-sbc-timer-answer-refreshes-expect-bye.xml', { aScenario: 'uac-sbc-timer-refresher-uac-silent-expect-bye.xml', failed: 0 });
    const toA = received(a.messages);
    expect(toA).toMatch(/^Session-Expires: 2;refresher=uac\s*$/m); // A is the refresher of its leg, as it asked
    expect(toA).toMatch(/^Require: timer\s*$/m);
    expect(toA).not.toMatch(/^(UPDATE|INVITE) /m); // the sbc never refreshed A
    expect(tookMs).toBeLessThan(4000); // given up 1.33 s after the answer
  });

  // last in the file: the unanswered refresh INVITE goes on being retransmitted to B's port (its transaction's 32 s)
  it('a leg that stops answering its refresh ends the call: BYE on both legs within the interval', async () => {
    const { tookMs } = await callEndedByTimer('uas-sbc-timer-ignore-refresh-expect-bye.xml');
    // B's session ends 2 s after the answer (its refresh at 1 s unanswered); without the timer the call would last until sipp's limit
    expect(tookMs).toBeLessThan(5000);
  });
});
