/**
 * Voicemail end to end against the daemon as a process, with a private MariaDB: a raw UDP
 * SIP caller with an RTP socket of its own (it sends a G.711 tone with a lost, a duplicated
 * and a reordered packet, and RFC 4733 digits), and a UDP socket standing in for the
 * proxy's internal listener, which answers the MWI NOTIFYs 200. Everything on 127.0.0.1.
 */
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createDb, depositVoicemail, migrate, subscriberHa1, voicemailFile, type Db } from '@ngcp/db';
import { allocatePortRange, freePort, releasePort } from '@ngcp/testkit';
import { useMariaDb } from '@ngcp/testkit/vitest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linearToUlaw, parseRtpHeader, readWav, rtpPacket, telephoneEventPackets, ulawToLinear, writeWav } from '../src/index.js';
import { HOST, metric, sleep, startAppserver, type Appserver } from './helpers.js';

const mariadb = useMariaDb();
let db: Db;
let as: Appserver;
let range: Awaited<ReturnType<typeof allocatePortRange>>;
let spool: string;
let proxy: FakeProxy;
let aliceId: number;
let carolId: number;

const MAX_MESSAGE_S = 3;

/** The proxy's internal listener as MWI sees it: every NOTIFY kept, answered 200. */
interface FakeProxy { port: number; notifies: string[]; socket: Socket }

async function fakeProxy(): Promise<FakeProxy> {
  const port = await freePort({ udp: true, host: HOST });
  const socket = createSocket('udp4');
  const notifies: string[] = [];
  socket.on('message', (msg, rinfo) => {
    const text = msg.toString();
    if (!text.startsWith('NOTIFY ')) return;
    notifies.push(text);
    const keep = text.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
    const reply = ['SIP/2.0 200 OK', ...keep.map((l) => (/^To:/i.test(l) ? `${l};tag=proxy` : l)), 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(reply, rinfo.port, rinfo.address);
  });
  await new Promise<void>((r) => socket.bind(port, HOST, r));
  return { port, notifies, socket };
}

/** The body of a NOTIFY. */
const bodyOf = (m: string): string => m.slice(m.indexOf('\r\n\r\n') + 4);

/** A sine of `hz` at amplitude `amp`, `ms` long, from sample `phase` on. */
function sine(hz: number, ms: number, amp = 8000, phase = 0): Int16Array {
  const out = new Int16Array((ms * 8) | 0);
  for (let i = 0; i < out.length; i++) out[i] = Math.round(amp * Math.sin((2 * Math.PI * hz * (i + phase)) / 8000));
  return out;
}

/** The power of `hz` in `s` (Goertzel), normalised so a full-scale-`amp` sine gives about amp²/4. */
function tone(s: Int16Array, hz: number): number {
  const k = 2 * Math.cos((2 * Math.PI * hz) / 8000);
  let a = 0;
  let b = 0;
  for (const x of s) {
    const c = x + k * a - b;
    b = a;
    a = c;
  }
  return (a * a + b * b - k * a * b) / (s.length * s.length);
}

/** A caller: SIP over one UDP socket, RTP over another; what arrives is kept. */
class Caller {
  readonly sip: string[] = [];
  readonly rtp: Array<{ at: number; header: ReturnType<typeof parseRtpHeader> }> = [];
  toTag = '';
  remoteRtp = 0;
  private cseq = 1;
  private seq = 1000;
  private ts = 50_000;
  private readonly ssrc = 0x5eed;

  private constructor(readonly sipSock: Socket, readonly rtpSock: Socket, readonly sipPort: number, readonly rtpPort: number, readonly callId: string, readonly user: string) {
    sipSock.on('message', (m) => {
      const t = m.toString();
      this.sip.push(t);
      if (t.startsWith('BYE ')) this.answer(t, 200);
    });
    rtpSock.on('message', (m) => this.rtp.push({ at: Date.now(), header: parseRtpHeader(m) }));
  }

  static async open(user: string, callId: string): Promise<Caller> {
    const bind = async (): Promise<Socket> => {
      const s = createSocket('udp4');
      await new Promise<void>((r) => s.bind(0, HOST, r));
      return s;
    };
    const sipSock = await bind();
    const rtpSock = await bind();
    return new Caller(sipSock, rtpSock, sipSock.address().port, rtpSock.address().port, callId, user);
  }

  private send(text: string): void {
    this.sipSock.send(text, as.sipPort, HOST);
  }

  private answer(req: string, status: number): void {
    const keep = req.split('\r\n').filter((l) => /^(Via|From|To|Call-ID|CSeq):/i.test(l));
    this.send([`SIP/2.0 ${status} OK`, ...keep, 'Content-Length: 0', '', ''].join('\r\n'));
  }

  private request(method: string, extra: string[] = [], body = ''): void {
    const seq = method === 'ACK' ? 1 : this.cseq++;
    const to = `To: <sip:${this.user}@${HOST}>${this.toTag ? `;tag=${this.toTag}` : ''}`;
    this.send([
      `${method} sip:${this.user}@${HOST}:${as.sipPort} SIP/2.0`, `Via: SIP/2.0/UDP ${HOST}:${this.sipPort};branch=z9hG4bK-${this.callId}-${method}-${seq}`, 'Max-Forwards: 70',
      'From: "Bob" <sip:4930111@example.org>;tag=bob1', to, `Call-ID: ${this.callId}`, `CSeq: ${seq} ${method}`, `Contact: <sip:bob@${HOST}:${this.sipPort}>`,
      ...extra, `Content-Length: ${Buffer.byteLength(body)}`, '', body,
    ].join('\r\n'));
  }

  /** INVITE with an offer of PCMU and telephone-event/8000 (payload type 101); the status of the final answer, ACKed. */
  async invite(extra: string[] = []): Promise<number> {
    const sdp = ['v=0', `o=- 1 1 IN IP4 ${HOST}`, 's=-', `c=IN IP4 ${HOST}`, 't=0 0', `m=audio ${this.rtpPort} RTP/AVP 0 101`, 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15', 'a=sendrecv', ''].join('\r\n');
    this.request('INVITE', [...extra, 'Content-Type: application/sdp'], sdp);
    const final = await this.waitSip((m) => /^SIP\/2\.0 [2-6]\d\d .*\r\n[\s\S]*CSeq: 1 INVITE/.test(m), 5000);
    const status = Number(final.slice(8, 11));
    this.toTag = /\r\nTo:[^\r]*;tag=([^;\r]+)/i.exec(final)?.[1] ?? '';
    if (status === 200) {
      this.remoteRtp = Number(/m=audio (\d+)/.exec(final)![1]);
      this.answerSdp = final.slice(final.indexOf('\r\n\r\n') + 4);
      this.request('ACK');
    }
    return status;
  }

  answerSdp = '';

  async bye(): Promise<void> {
    this.request('BYE');
    await this.waitSip((m) => /^SIP\/2\.0 200[\s\S]*CSeq: \d+ BYE/.test(m), 5000);
  }

  async waitSip(match: (m: string) => boolean, ms: number): Promise<string> {
    const end = Date.now() + ms;
    for (;;) {
      const m = this.sip.find(match);
      if (m) return m;
      if (Date.now() > end) throw new Error(`no such SIP message in ${ms} ms; got:\n${this.sip.map((x) => x.split('\r\n')[0]).join('\n')}`);
      await sleep(10);
    }
  }

  /** RTP packets of 20 ms of `samples` each, paced 20 ms; `mangle` may drop (null) or add packets. */
  async sendAudio(samples: Int16Array, mangle: (i: number, p: Buffer) => Buffer[] = (_i, p) => [p]): Promise<void> {
    const start = Date.now();
    let held: Buffer[] = [];
    for (let i = 0; i * 160 < samples.length; i++) {
      const payload = Buffer.from(samples.subarray(i * 160, (i + 1) * 160).map(linearToUlaw));
      const p = rtpPacket({ payloadType: 0, sequence: this.seq++ & 0xffff, timestamp: this.ts, ssrc: this.ssrc, marker: i === 0 }, payload);
      this.ts += 160;
      for (const out of [...mangle(i, p), ...held]) this.rtpSock.send(out, this.remoteRtp, HOST);
      held = [];
      const wait = start + 20 * (i + 1) - Date.now();
      if (wait > 0) await sleep(wait);
    }
  }

  /** One RFC 4733 digit: three packets of the event, then three end packets (one RTP timestamp). */
  async digit(d: string): Promise<void> {
    const packets = telephoneEventPackets(d, { payloadType: 101, sequence: this.seq, timestamp: this.ts, ssrc: this.ssrc });
    this.seq += packets.length;
    for (const p of packets) {
      this.rtpSock.send(p, this.remoteRtp, HOST);
      await sleep(20);
    }
    this.ts += 160 * packets.length;
  }

  /** The audio that arrived since `from` (ms epoch), decoded. */
  heardSince(from: number): Int16Array {
    const packets = this.rtp.filter((p) => p.at >= from && p.header.payloadType === 0);
    return Int16Array.from(packets.flatMap((p) => [...p.header.payload].map(ulawToLinear)));
  }

  close(): void {
    this.sipSock.close();
    this.rtpSock.close();
  }
}

async function waitFor<T>(get: () => T | undefined | false | Promise<T | undefined | false>, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await get();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

beforeAll(async () => {
  const m = mariadb();
  db = createDb({ ...m.connectionConfig(), pool: { max: 3 } });
  await migrate.latest(db);
  const [domainId] = (await db('domains').insert({ domain: 'example.org' })) as [number];
  [aliceId] = (await db('subscribers').insert({ uuid: crypto.randomUUID(), domain_id: domainId, username: 'alice', ...subscriberHa1('alice', 'example.org', 'pw') })) as [number];
  [carolId] = (await db('subscribers').insert({ uuid: crypto.randomUUID(), domain_id: domainId, username: 'carol', ...subscriberHa1('carol', 'example.org', 'pw') })) as [number];
  spool = mkdtempSync(join(tmpdir(), 'ngcp-vm-spool-'));
  proxy = await fakeProxy();
  range = await allocatePortRange(100, { udp: true, host: HOST });
  as = await startAppserver(range, [
    `db: { host: ${m.host}, port: ${m.port}, user: ${m.user}, password: "${m.password}", database: ${m.database} }`,
    `voicemail: { dir: ${spool}, max_message_s: ${MAX_MESSAGE_S}, min_message_ms: 1000, mwi_proxy: { address: ${HOST}, port: ${proxy.port} } }`,
  ]);
}, 120_000);

afterAll(async () => {
  await as?.stop();
  range?.release();
  if (proxy) {
    proxy.socket.close();
    releasePort(proxy.port);
  }
  await db?.destroy();
  if (spool) rmSync(spool, { recursive: true, force: true });
});

/** How many packets the deposit's greeting and beep are (then the recording starts). */
async function greetingPackets(): Promise<number> {
  const { sounds } = await as.rpc.call<{ sounds: Array<{ name: string; duration_ms: number }> }>('appserver.sounds');
  const ms = (n: string): number => sounds.find((s) => s.name === n)!.duration_ms;
  // the two are played as one stream: its length rounded up to whole packets
  return Math.ceil((ms('vm-greeting') + ms('vm-beep')) / 20) - 1;
}

/** A deposit call for alice: waits for the greeting and beep, then `send`, then `end` (our BYE, or wait for theirs). */
async function deposit(callId: string, send: (c: Caller) => Promise<void>, end: 'caller' | 'appserver' = 'caller'): Promise<Caller> {
  const c = await Caller.open(`vm-deposit.${aliceId}`, callId);
  try {
    expect(await c.invite(['P-Asserted-Identity: <sip:4930999@example.org;user=phone>'])).toBe(200);
    expect(c.answerSdp).toMatch(/m=audio \d+ RTP\/AVP 0 101\r\n/);
    expect(c.answerSdp).toContain('a=rtpmap:101 telephone-event/8000');
    expect(c.answerSdp).toContain('a=sendrecv');
    const n = await greetingPackets();
    // all of the greeting and beep, and then quiet: the last packet has played out, recording has begun
    await waitFor(() => c.rtp.length >= n && Date.now() - c.rtp.at(-1)!.at > 120, 30_000, `the greeting and beep (${n} packets), then quiet`);
    await send(c);
    if (end === 'caller') await c.bye();
    return c;
  } finally {
    if (end === 'caller') c.close();
  }
}

describe('voicemail deposit', () => {
  it('records the caller’s tone (a lost packet as 20 ms of silence, duplicate and reordering undone) to a WAV file and a row, then MWI', async () => {
    const before = proxy.notifies.length;
    const t0 = Date.now();
    const c = await deposit('dep-1', async (caller) => {
      // the caller's greeting-time audio is not part of the message: recording starts after the beep
      // 2 s of 440 Hz: packet 50 lost, packet 20 sent twice, packets 70 and 71 swapped
      let swapped: Buffer | null = null;
      await caller.sendAudio(sine(440, 2000), (i, p) => {
        if (i === 50) return [];
        if (i === 20) return [p, p];
        if (i === 70) {
          swapped = p;
          return [];
        }
        if (i === 71) return [p, swapped!];
        return [p];
      });
    });
    // greeting + beep heard with energy (1 kHz during the beep)
    const heard = c.heardSince(t0);
    expect(tone(heard.subarray(-2400), 1000)).toBeGreaterThan(1e5);
    await waitFor(() => proxy.notifies.length > before, 10_000, 'the MWI NOTIFY');
    const row = await db('voicemail_messages as m').join('voicemail_boxes as b', 'b.id', 'm.box_id').where('b.subscriber_id', aliceId).first('m.*');
    expect(row).toMatchObject({ folder: 'INBOX', is_read: 0, caller: '4930999', duration: 2, audio_format: 'wav' });
    expect(Math.abs(new Date(row.received_at).getTime() - Date.now())).toBeLessThan(10_000);
    const file = voicemailFile(spool, row.box_id, row.id);
    const wav = readFileSync(file);
    expect(Buffer.from(row.audio).equals(wav)).toBe(true);
    const samples = readWav(wav);
    expect(samples.length).toBe(100 * 160);
    // the lost packet is silence, its neighbours the tone; the tone is 440 Hz, not the beep's 1 kHz
    expect(samples.subarray(50 * 160, 51 * 160).every((x) => x === 0)).toBe(true);
    const sent = sine(440, 2000);
    const level = tone(sent, 440);
    expect(tone(samples, 440)).toBeGreaterThan(level * 0.9);
    expect(tone(samples, 1000)).toBeLessThan(level * 0.01);
    // order restored: sample by sample the recording is the tone through μ-law (but for the lost packet)
    for (const i of [20, 70, 71, 99]) {
      const got = samples.subarray(i * 160, (i + 1) * 160);
      const want = sent.subarray(i * 160, (i + 1) * 160).map((x) => ulawToLinear(linearToUlaw(x)));
      expect([...got], `packet ${i}`).toEqual([...want]);
    }
    const notify = proxy.notifies.at(-1)!;
    expect(notify.split('\r\n')[0]).toBe('NOTIFY sip:alice@example.org SIP/2.0');
    expect(notify).toMatch(/\r\nEvent: message-summary\r\n/i);
    expect(notify).toMatch(/\r\nContent-Type: application\/simple-message-summary\r\n/i);
    expect(notify).toMatch(/\r\nTo: <sip:alice@example.org>\r\n/i);
    expect(notify).not.toMatch(/Subscription-State/i);
    expect(bodyOf(notify)).toBe('Messages-Waiting: yes\r\nMessage-Account: sip:voicebox@example.org\r\nVoice-Message: 1/0\r\n');
    const text = await waitFor(async () => {
      const t = await as.metrics();
      return metric(t, 'appserver_mwi_notify_total', { result: 'ok' }) === 1 && t;
    }, 5000, 'the proxy’s 200 counted');
    expect(metric(text, 'appserver_voicemail_messages_total', { result: 'saved' })).toBe(1);
    expect(metric(text, 'appserver_calls_total', { name: 'vm-deposit', result: 'caller_hangup' })).toBe(1);
  });

  it('a message shorter than min_message_ms is discarded; at max_message_s the app-server hangs up and keeps what it has', async () => {
    const count = async (): Promise<number> => Number((await db('voicemail_messages as m').join('voicemail_boxes as b', 'b.id', 'm.box_id').where('b.subscriber_id', aliceId).count({ n: '*' }))[0]!.n);
    const before = await count();
    await deposit('dep-short', (c) => c.sendAudio(sine(440, 500)));
    await waitFor(async () => metric(await as.metrics(), 'appserver_voicemail_messages_total', { result: 'too_short' }) === 1, 5000, 'too_short counted');
    expect(await count()).toBe(before);
    // 5 s of tone against a 3 s limit: our BYE comes, the message is 3 s
    const t0 = Date.now();
    const c = await deposit('dep-long', (caller) => caller.sendAudio(sine(440, (MAX_MESSAGE_S + 2) * 1000)), 'appserver');
    try {
      const bye = await c.waitSip((m) => m.startsWith('BYE '), 10_000);
      expect(bye).toMatch(/\r\nCall-ID: dep-long\r\n/);
      await waitFor(async () => (await count()) === before + 1, 5000, 'the row');
      const row = await db('voicemail_messages').orderBy('id', 'desc').first('duration', 'audio', 'caller');
      expect(row.duration).toBe(MAX_MESSAGE_S);
      expect(readWav(row.audio).length).toBeLessThanOrEqual(MAX_MESSAGE_S * 8000);
      expect(readWav(row.audio).length).toBeGreaterThan((MAX_MESSAGE_S - 0.2) * 8000);
      expect(Date.now() - t0).toBeLessThan(30_000);
    } finally {
      c.close();
    }
  });

  it('MariaDB does not take the row: the recording is kept as a file under unsaved/, logged, and the daemon goes on', async () => {
    await deposit('dep-nodb', async (c) => {
      await c.sendAudio(sine(440, 1500));
      // the table goes away while the call is on: the insert at the BYE fails
      await db.raw('RENAME TABLE voicemail_messages TO voicemail_messages_away');
    });
    try {
      await waitFor(async () => metric(await as.metrics(), 'appserver_voicemail_messages_total', { result: 'db_error' }) === 1, 10_000, 'db_error counted');
    } finally {
      await db.raw('RENAME TABLE voicemail_messages_away TO voicemail_messages');
    }
    const kept = readdirSync(join(spool, 'unsaved'));
    expect(kept).toHaveLength(1);
    expect(kept[0]).toMatch(new RegExp(`^${aliceId}-.*dep-nodb\\.wav$`));
    const samples = readWav(readFileSync(join(spool, 'unsaved', kept[0]!)));
    expect(samples.length).toBe(75 * 160);
    expect(tone(samples, 440)).toBeGreaterThan(tone(sine(440, 1500), 440) * 0.9);
    expect(as.output()).toContain('MariaDB did not take the message; the recording is kept in the file');
    expect((await as.rpc.call<{ ok: boolean }>('health')).ok).toBe(true);
  });

  it('an unknown subscriber gets 404; the MWI control method sends a NOTIFY with the box’s counts, bad params named', async () => {
    const c = await Caller.open('vm-deposit.999999', 'dep-404');
    try {
      expect(await c.invite()).toBe(404);
    } finally {
      c.close();
    }
    const before = proxy.notifies.length;
    const r = await as.rpc.call<{ subscriber_id: number; result: string; new: number; old: number }>('appserver.mwi', { subscriber_id: carolId });
    expect(r).toEqual({ subscriber_id: carolId, result: 'sent', new: 0, old: 0 });
    const n = await waitFor(() => proxy.notifies.length > before && proxy.notifies.at(-1), 5000, 'the NOTIFY');
    expect(n.split('\r\n')[0]).toBe('NOTIFY sip:carol@example.org SIP/2.0');
    expect(bodyOf(n)).toBe('Messages-Waiting: no\r\nMessage-Account: sip:voicebox@example.org\r\nVoice-Message: 0/0\r\n');
    await expect(as.rpc.call('appserver.mwi', { subscriber_id: 'x' })).rejects.toThrow(/subscriber_id/);
    expect(await as.rpc.call('appserver.mwi', { subscriber_id: 999_999 })).toEqual({ subscriber_id: 999_999, result: 'no_subscriber' });
  });
});

describe('voicemail retrieval (RFC 4733 menu)', () => {
  it('says the counts, plays new then saved messages; 1 replays, 9 saves (Old, MWI says no new), 7 deletes (row and file), # next, then goodbye and BYE', async () => {
    // carol: two new messages — a 1 kHz one in the row (as a deposit stores it), a 600 Hz one only as a file — and a saved 300 Hz one
    const a = await depositVoicemail(db, carolId, { caller: '4930123', duration: 1, audio: writeWav(sine(1000, 1000)), receivedAt: new Date('2026-01-01T10:00:00Z') });
    const b = await depositVoicemail(db, carolId, { caller: '4930456', duration: 1, receivedAt: new Date('2026-01-01T11:00:00Z') });
    const old = await depositVoicemail(db, carolId, { caller: '4930789', duration: 1, folder: 'Old', audio: writeWav(sine(300, 1000)), receivedAt: new Date('2025-12-01T11:00:00Z') });
    await db('voicemail_messages').where('id', old.id).update({ is_read: 1 });
    const fileB = voicemailFile(spool, b.boxId, b.id);
    await mkdir(dirname(fileB), { recursive: true });
    await writeFile(fileB, writeWav(sine(600, 1000)));
    const summary = (fresh: number, saved: number): string => `Messages-Waiting: ${fresh ? 'yes' : 'no'}\r\nMessage-Account: sip:voicebox@example.org\r\nVoice-Message: ${fresh}/${saved}\r\n`;
    const mwiSince = (n: number): string[] => proxy.notifies.slice(n).map(bodyOf);
    /** The audio heard in the next `ms`. */
    const listen = async (ms: number): Promise<Int16Array> => {
      const t = Date.now();
      await sleep(ms);
      return c.heardSince(t);
    };
    const before = proxy.notifies.length;
    const c = await Caller.open(`vm-retrieve.${carolId}`, 'ret-1');
    try {
      const t0 = Date.now();
      expect(await c.invite()).toBe(200);
      expect(c.answerSdp).toContain('a=rtpmap:101 telephone-event/8000');
      // message A starts: it is read now → MWI 1 new (B), 2 old
      await waitFor(() => mwiSince(before).includes(summary(1, 2)), 30_000, 'MWI 1/2 as message A plays');
      // the intro was spoken before A (more than a second of audio with energy)
      const intro = c.heardSince(t0);
      expect(intro.length).toBeGreaterThan(8000);
      expect(intro.reduce((acc, x) => acc + x * x, 0) / intro.length).toBeGreaterThan(1e5);
      const heardA = await listen(900);
      expect(tone(heardA, 1000), 'message A (1 kHz) heard').toBeGreaterThan(1e6);
      expect(tone(heardA, 600)).toBeLessThan(tone(heardA, 1000) / 10);
      expect((await db('voicemail_messages').where('id', a.id).first('is_read')).is_read).toBe(1);
      // the menu is spoken after it (speech, no 1 kHz); 1 plays A again
      await waitFor(() => {
        const last = c.heardSince(Date.now() - 300);
        return last.length >= 1600 && tone(last, 1000) < 1e5;
      }, 5000, 'A over, the menu playing');
      await c.digit('1');
      expect(tone(await listen(800), 1000), 'A again after 1').toBeGreaterThan(1e6);
      // 9: saved → folder Old; then "message saved" and B plays: read → MWI no new
      const n9 = proxy.notifies.length;
      await c.digit('9');
      await waitFor(async () => (await db('voicemail_messages').where('id', a.id).first('folder')).folder === 'Old', 5000, 'A in Old');
      await waitFor(() => mwiSince(n9).includes(summary(0, 3)), 15_000, 'MWI 0/3 as B plays');
      expect(tone(await listen(900), 600), 'message B (600 Hz, from its file) heard').toBeGreaterThan(1e6);
      // 7: B deleted, row and file; "message deleted", then the saved message C
      const n7 = proxy.notifies.length;
      await c.digit('7');
      await waitFor(async () => !(await db('voicemail_messages').where('id', b.id).first('id')), 5000, 'B’s row gone');
      expect(existsSync(fileB)).toBe(false);
      await waitFor(() => mwiSince(n7).includes(summary(0, 2)), 5000, 'MWI 0/2');
      await waitFor(() => tone(c.heardSince(Date.now() - 300), 300) > 1e6, 10_000, 'the saved message C (300 Hz)');
      // #: next — there is none: goodbye and our BYE
      await c.digit('#');
      await c.waitSip((m) => m.startsWith('BYE '), 20_000);
      expect(await db('voicemail_messages as m').join('voicemail_boxes as bx', 'bx.id', 'm.box_id').where('bx.subscriber_id', carolId).orderBy('m.id').select('m.id', 'm.folder')).toEqual([{ id: a.id, folder: 'Old' }, { id: old.id, folder: 'Old' }]);
      expect(metric(await as.metrics(), 'appserver_calls_total', { name: 'vm-retrieve', result: 'completed' })).toBe(1);
    } finally {
      c.close();
    }
  });

  it('an empty box: "no messages", goodbye, BYE', async () => {
    const [domain] = await db('domains').where('domain', 'example.org').pluck('id');
    const [daveId] = (await db('subscribers').insert({ uuid: crypto.randomUUID(), domain_id: domain, username: 'dave', ...subscriberHa1('dave', 'example.org', 'pw') })) as [number];
    const c = await Caller.open(`vm-retrieve.${daveId}`, 'ret-empty');
    try {
      const t0 = Date.now();
      expect(await c.invite()).toBe(200);
      await c.waitSip((m) => m.startsWith('BYE '), 20_000);
      expect(c.heardSince(t0).length).toBeGreaterThan(8000); // the prompts: more than a second of audio
    } finally {
      c.close();
    }
  });
});

describe('voicemail and a stopping app-server (the last test: it stops the daemon)', () => {
  it('SIGTERM during a deposit: our BYE, and what was recorded is written (file and row) before the process exits', async () => {
    const before = Number((await db('voicemail_messages').count({ n: '*' }))[0]!.n);
    const c = await deposit('dep-sigterm', (caller) => caller.sendAudio(sine(440, 2000)), 'appserver');
    try {
      await as.stop();
      const bye = await c.waitSip((m) => m.startsWith('BYE '), 1000);
      expect(bye).toMatch(/\r\nReason: SIP;cause=200;text="shutdown"\r\n/);
      expect(Number((await db('voicemail_messages').count({ n: '*' }))[0]!.n)).toBe(before + 1);
      const row = await db('voicemail_messages').orderBy('id', 'desc').first('id', 'box_id', 'duration', 'caller');
      expect(row).toMatchObject({ duration: 2, caller: '4930999' });
      expect(tone(readWav(readFileSync(voicemailFile(spool, row.box_id, row.id))), 440)).toBeGreaterThan(1e6);
    } finally {
      c.close();
    }
  });
});
