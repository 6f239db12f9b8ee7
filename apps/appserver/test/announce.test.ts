/**
 * The app-server process (dist/main.js, with the sound set the build rendered) answering
 * sipp, which stands for the proxy's side of an announcement call; a UDP receiver on the
 * port of sipp's SDP stands for rtpengine and checks the RTP: count ≈ duration / 20 ms,
 * payload type, sequence, timestamps, SSRC, marker, pacing, and the payload itself (the
 * sound's G.711 encoding). Then the app-server's BYE; a caller's BYE mid-announcement
 * (no RTP after it); 404 for an unknown name; 405 / 200 out of dialog; a late offer
 * answered PCMA in the ACK; the operator's sounds (override, refusal, reload) and repeat.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allocatePortRange } from '@ngcp/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILTIN_SOUNDS_DIR, DEFAULT_SOUND_NAMES, encode, readWav, SAMPLES_PER_PACKET, SILENCE, writeWav, type G711Codec } from '../src/index.js';
import { fileURLToPath } from 'node:url';
import { HOST, metric, sipp, sipRequest, sleep, startAppserver, type Appserver, type Received, withRtp } from './helpers.js';

/** The payload bytes a whole sound makes, padded to whole packets, `plays` times. */
function expectedPayload(samples: Int16Array, codec: G711Codec, plays = 1): Buffer {
  const enc = encode(samples, codec);
  const padded = Buffer.alloc(Math.ceil(enc.length / SAMPLES_PER_PACKET) * SAMPLES_PER_PACKET, SILENCE[codec]);
  enc.copy(padded);
  return Buffer.concat(Array(plays).fill(padded));
}

/** What every announcement's RTP must look like: one SSRC, sequence +1 and timestamp +160 from packet to packet, marker on the first only. */
function checkStream(packets: Received[], payloadType: number): void {
  expect(packets.length).toBeGreaterThan(0);
  const first = packets[0]!.header;
  packets.forEach((p, i) => {
    expect(p.header.version).toBe(2);
    expect(p.header.payloadType).toBe(payloadType);
    expect(p.header.ssrc).toBe(first.ssrc);
    expect(p.header.sequence).toBe((first.sequence + i) & 0xffff);
    expect(p.header.timestamp).toBe((first.timestamp + i * SAMPLES_PER_PACKET) >>> 0);
    expect(p.header.marker).toBe(i === 0);
    expect(p.header.payload.length).toBe(SAMPLES_PER_PACKET);
  });
}

const builtin = (name: string): Int16Array => readWav(readFileSync(join(fileURLToPath(BUILTIN_SOUNDS_DIR), `${name}.wav`)));

describe('announcements with the default sound set', () => {
  let range: Awaited<ReturnType<typeof allocatePortRange>>;
  let as: Appserver;
  let busyMs: number;

  beforeAll(async () => {
    range = await allocatePortRange(100, { udp: true, host: HOST });
    as = await startAppserver(range);
    const { sounds } = await as.rpc.call<{ sounds: Array<{ name: string; source: string; duration_ms: number }> }>('appserver.sounds');
    expect(sounds.map((s) => s.name)).toEqual([...DEFAULT_SOUND_NAMES].sort((a, b) => a.localeCompare(b)));
    expect(sounds.filter((s) => !/^(vm|digit)-/.test(s.name)).map((s) => s.name)).toEqual(['busy', 'no-credit', 'not-allowed', 'number-unknown', 'unavailable', 'vsc-cleared', 'vsc-error', 'vsc-ok']);
    expect(sounds.every((s) => s.source === 'builtin' && s.duration_ms >= (/^(vm|digit)-/.test(s.name) ? 200 : 500))).toBe(true);
    busyMs = sounds.find((s) => s.name === 'busy')!.duration_ms;
  }, 60_000);
  afterAll(async () => {
    await as?.stop();
    range?.release();
  });

  it('announce.busy: 200 with PCMU, the whole sound paced at 20 ms, then the app-server BYE', async () => {
    await withRtp(async (rx) => {
      const r = await sipp(as, { scenario: 'uac-announce-expect-bye.xml', service: 'announce.busy', rtpPort: rx.port });
      expect(r.code, r.report).toBe(0);
      const n = busyMs / 20;
      expect(rx.packets.length, 'one packet per 20 ms of sound').toBeGreaterThanOrEqual(Math.floor(0.95 * n));
      expect(rx.packets.length).toBeLessThanOrEqual(n);
      checkStream(rx.packets, 0);
      expect(Buffer.concat(rx.packets.map((p) => p.header.payload)).equals(expectedPayload(builtin('busy'), 'PCMU').subarray(0, rx.packets.length * 160)), 'the payload is busy.wav in μ-law').toBe(true);
      const span = rx.packets.at(-1)!.at - rx.packets[0]!.at;
      expect(span, 'paced, not in a burst').toBeGreaterThanOrEqual(0.9 * (n - 1) * 20);
      expect(span).toBeLessThanOrEqual((n - 1) * 20 + 500);
      const atBye = rx.packets.length;
      await sleep(300);
      expect(rx.packets.length, 'no RTP after the BYE').toBe(atBye);
      const m = await as.metrics();
      expect(metric(m, 'appserver_calls_total', { name: 'busy', result: 'completed' })).toBe(1);
      expect(metric(m, 'appserver_rtp_packets_sent_total')).toBeGreaterThanOrEqual(n);
      expect(metric(m, 'appserver_active_calls')).toBe(0);
    });
  }, 60_000);

  it('the caller hangs up mid-announcement: 200 to its BYE, no RTP after it', async () => {
    await withRtp(async (rx) => {
      const call = sipp(as, { scenario: 'uac-announce-hangup-after-pause.xml', service: 'announce.unavailable', rtpPort: rx.port, pauseMs: 1000 });
      // while it plays, the control method lists it
      let listed: Array<{ name: string; state: string; codec: string; packets_sent: number }> = [];
      for (let i = 0; i < 50 && listed.length === 0; i++) {
        listed = (await as.rpc.call<{ calls: typeof listed }>('appserver.calls')).calls;
        if (listed.length === 0) await sleep(50);
      }
      expect(listed).toMatchObject([{ name: 'unavailable', state: 'playing', codec: 'PCMU' }]);
      const r = await call;
      expect(r.code, r.report).toBe(0);
      await sleep(200);
      const atHangup = rx.packets.length;
      expect(atHangup, 'about a second of sound before the BYE').toBeGreaterThan(30);
      expect(atHangup).toBeLessThan(90);
      await sleep(600);
      expect(rx.packets.length, 'nothing after the BYE').toBe(atHangup);
      checkStream(rx.packets, 0);
      expect((await as.rpc.call<{ calls: unknown[] }>('appserver.calls')).calls).toEqual([]);
      expect(metric(await as.metrics(), 'appserver_calls_total', { name: 'unavailable', result: 'caller_hangup' })).toBe(1);
    });
  }, 60_000);

  it('an unknown announcement gets 404', async () => {
    await withRtp(async (rx) => {
      const r = await sipp(as, { scenario: 'uac-announce-expect-404.xml', service: 'announce.no-such-sound', rtpPort: rx.port });
      expect(r.code, r.report).toBe(0);
      expect(rx.packets).toEqual([]);
      expect(metric(await as.metrics(), 'appserver_calls_total', { name: 'unknown', result: 'not_found' })).toBe(1);
    });
  }, 60_000);

  it('late offer: our offer in the 200, the ACK answers PCMA, the sound goes out as A-law', async () => {
    await withRtp(async (rx) => {
      const r = await sipp(as, { scenario: 'uac-announce-late-offer-pcma-expect-bye.xml', service: 'announce.vsc-ok', rtpPort: rx.port });
      expect(r.code, r.report).toBe(0);
      const samples = builtin('vsc-ok');
      const n = Math.ceil(samples.length / SAMPLES_PER_PACKET);
      expect(rx.packets.length).toBeGreaterThanOrEqual(Math.floor(0.95 * n));
      checkStream(rx.packets, 8);
      expect(Buffer.concat(rx.packets.map((p) => p.header.payload)).equals(expectedPayload(samples, 'PCMA').subarray(0, rx.packets.length * 160))).toBe(true);
    });
  }, 60_000);

  it('out of dialog: OPTIONS 200, REGISTER 405, and an in-dialog BYE of no call 481', async () => {
    const req = (method: string, to = `<sip:announce.busy@${HOST}>`): string[] => [
      `${method} sip:announce.busy@${HOST}:${as.sipPort} SIP/2.0`, 'Via: SIP/2.0/UDP {local};branch=z9hG4bK-t-' + method + Date.now(), 'Max-Forwards: 70',
      'From: <sip:t@test.invalid>;tag=1', `To: ${to}`, `Call-ID: t-${method}-${Date.now()}@test`, `CSeq: 1 ${method}`,
    ];
    expect(await sipRequest(as.sipPort, req('OPTIONS'))).toBe('SIP/2.0 200 OK');
    expect(await sipRequest(as.sipPort, req('REGISTER'))).toBe('SIP/2.0 405 Method Not Allowed');
    expect(await sipRequest(as.sipPort, req('BYE', `<sip:announce.busy@${HOST}>;tag=nope`))).toBe('SIP/2.0 481 Call/Transaction Does Not Exist');
  });
});

describe("the operator's sounds and announce_repeat", () => {
  let range: Awaited<ReturnType<typeof allocatePortRange>>;
  let as: Appserver;
  let dir: string;
  const tone = (n: number): Int16Array => Int16Array.from({ length: n }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 400 * i) / 8000)));

  beforeAll(async () => {
    range = await allocatePortRange(100, { udp: true, host: HOST });
    dir = mkdtempSync(join(tmpdir(), 'ngcp-appserver-op-'));
    writeFileSync(join(dir, 'busy.wav'), writeWav(tone(700))); // 5 packets, the last padded
    writeFileSync(join(dir, 'wide.wav'), writeWav(tone(700), { sampleRate: 16000 }));
    as = await startAppserver(range, ['announce_repeat: 3', `sounds_dir: ${JSON.stringify(dir)}`]);
  }, 60_000);
  afterAll(async () => {
    await as?.stop();
    range?.release();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('an operator file replaces the default by name, a wrong format is refused and logged, the sound plays 3 times', async () => {
    const { sounds, refused } = await as.rpc.call<{ sounds: Array<{ name: string; source: string; duration_ms: number }>; refused: Array<{ file: string; reason: string }> }>('appserver.sounds');
    expect(sounds.find((s) => s.name === 'busy')).toMatchObject({ source: 'operator', duration_ms: 100 });
    expect(refused).toEqual([{ file: join(dir, 'wide.wav'), reason: '16000 Hz (want 8000)' }]);
    expect(as.output()).toContain('operator sound refused');
    await withRtp(async (rx) => {
      const r = await sipp(as, { scenario: 'uac-announce-expect-bye.xml', service: 'announce.busy', rtpPort: rx.port });
      expect(r.code, r.report).toBe(0);
      expect(rx.packets.length).toBe(15);
      checkStream(rx.packets, 0);
      expect(Buffer.concat(rx.packets.map((p) => p.header.payload)).equals(expectedPayload(tone(700), 'PCMU', 3))).toBe(true);
    });
  }, 60_000);

  it('reload reads the directory again: a new file is a new announcement', async () => {
    writeFileSync(join(dir, 'holiday.wav'), writeWav(tone(320)));
    expect(await as.rpc.call('reload')).toEqual({ reloaded: true });
    const { sounds } = await as.rpc.call<{ sounds: Array<{ name: string; source: string }> }>('appserver.sounds');
    expect(sounds.find((s) => s.name === 'holiday')).toMatchObject({ source: 'operator' });
    await withRtp(async (rx) => {
      const r = await sipp(as, { scenario: 'uac-announce-expect-bye.xml', service: 'announce.holiday', rtpPort: rx.port });
      expect(r.code, r.report).toBe(0);
      expect(rx.packets.length).toBe(6);
    });
  }, 60_000);
});
