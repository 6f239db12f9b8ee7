/**
 * Voicemail calls (issue #11), the apps of two Request-URIs the proxy sends:
 *
 * - `vm-deposit.<subscriber id>`: the greeting and the beep, then the caller's RTP is
 *   recorded (recorder.ts) until the caller's BYE or `max_message_s` (then our BYE); a
 *   recording of at least `min_message_ms` becomes a WAV (8 kHz mono 16-bit) in the row
 *   (`voicemail_messages.audio`) and in `<dir>/<box id>/<message id>.wav`, then MWI.
 *   MariaDB away: the WAV is kept in `<dir>/unsaved/` and logged.
 * - `vm-retrieve.<subscriber id>` (the proxy authenticated the caller: no PIN): how many new
 *   and saved messages, then each message (new ones first) and the menu, driven by RFC 4733
 *   digits (dtmf.ts): 1 again, 7 delete (row and file), 9 save (folder Old), # next; after
 *   the last one, goodbye and our BYE. A message played, saved or deleted sends MWI.
 */
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Knex } from '@ngcp/db';
import { deleteVoicemail, depositVoicemail, findVoicemailOwner, listBoxMessages, markVoicemailRead, moveVoicemail, voicemailAudio, voicemailFile, type BoxMessage } from '@ngcp/db';
import type { AppResolver, CallApp, CallContext } from './announcer.js';
import { Player } from './player.js';
import { DtmfDetector } from './dtmf.js';
import { encode, type G711Codec } from './g711.js';
import type { AppserverMetrics } from './metrics.js';
import { RtpRecorder } from './recorder.js';
import { parseRtpHeader } from './rtp.js';
import type { Sound } from './sounds.js';
import { readWav, writeWav } from './wav.js';

/** The Request-URI users of voicemail: `vm-deposit.<id>`, `vm-retrieve.<id>` (a subscribers.id). */
export const VOICEMAIL_SERVICE = /^vm-(deposit|retrieve)\.([1-9][0-9]{0,9})$/;

const SAMPLE_RATE = 8000;

export interface VoicemailOptions {
  db: Knex;
  sounds: () => ReadonlyMap<string, Sound>;
  /** Where recordings go (absolute). */
  dir: string;
  maxMessageS: number;
  minMessageMs: number;
  /** MWI after a change of the box (mwi.ts); its promise never rejects. */
  notify: (subscriberId: number) => Promise<unknown>;
  metrics: AppserverMetrics;
  /** The menu waits this long for a digit before it is said again (at most MENU_REPEATS times, then goodbye). Default 10 s. */
  menuTimeoutMs?: number;
}

/** How often the menu is said again without a digit before the call ends. */
export const MENU_REPEATS = 3;

/** The voicemail apps: a deposit or retrieval call for an existing subscriber; null (404) otherwise. */
export function voicemailApps(o: VoicemailOptions): AppResolver {
  return async (user) => {
    const m = VOICEMAIL_SERVICE.exec(user);
    if (!m) return null;
    const id = Number(m[2]);
    if (!(await findVoicemailOwner(o.db, id))) return null;
    return m[1] === 'deposit' ? deposit(o, id) : retrieval(o, id);
  };
}

/** Named sounds, back to back, in the call's codec (a name not in the set is skipped). */
function prompt(o: VoicemailOptions, names: readonly string[], codec: G711Codec): Buffer {
  const set = o.sounds();
  return Buffer.concat(names.flatMap((n) => {
    const s = set.get(n);
    return s ? [s.encoded[codec]] : [];
  }));
}

/** A count as spoken digits: 12 → digit-1 digit-2. */
export const spokenNumber = (n: number): string[] => [...String(n)].map((d) => `digit-${d}`);

function deposit(o: VoicemailOptions, subscriberId: number): CallApp {
  let ctx: CallContext | null = null;
  let player: Player | null = null;
  let recorder: RtpRecorder | null = null;
  let startedAt = new Date();
  let limit: NodeJS.Timeout | null = null;
  return {
    name: 'vm-deposit',
    dtmf: true,
    start(c) {
      ctx = c;
      player = new Player(c);
      player.play(prompt(o, ['vm-greeting', 'vm-beep'], c.remote.codec), () => {
        recorder = new RtpRecorder({ codec: c.remote.codec, payloadType: c.remote.payloadType, maxSamples: o.maxMessageS * SAMPLE_RATE });
        startedAt = new Date();
        c.log.info({ subscriberId }, 'recording');
        limit = setTimeout(() => {
          c.log.info({ subscriberId, max_message_s: o.maxMessageS }, 'longest message reached; ending the call');
          c.hangup('completed');
        }, o.maxMessageS * 1000);
      });
    },
    onRtp(packet) {
      recorder?.push(packet);
    },
    async ended() {
      player?.stop();
      if (limit) clearTimeout(limit);
      if (!recorder || !ctx) return; // ended during the greeting: nothing recorded
      await saveRecording(o, subscriberId, ctx, recorder, startedAt);
    },
  };
}

async function saveRecording(o: VoicemailOptions, subscriberId: number, ctx: CallContext, recorder: RtpRecorder, receivedAt: Date): Promise<void> {
  const samples = recorder.samples();
  const ms = (samples.length * 1000) / SAMPLE_RATE;
  const log = ctx.log.child({ subscriberId, caller: ctx.caller, ms, packets: recorder.counts });
  if (ms < o.minMessageMs) {
    o.metrics.voicemailMessages.inc({ result: 'too_short' });
    return log.info({ min_message_ms: o.minMessageMs }, 'message too short; discarded');
  }
  const wav = writeWav(samples);
  let ids: { id: number; boxId: number };
  try {
    ids = await depositVoicemail(o.db, subscriberId, { caller: ctx.caller, duration: Math.max(1, Math.round(ms / 1000)), audio: wav, receivedAt });
  } catch (err) {
    const file = join(o.dir, 'unsaved', `${subscriberId}-${receivedAt.toISOString().replaceAll(':', '')}-${ctx.callId.replace(/[^A-Za-z0-9_.-]/g, '_').slice(0, 64)}.wav`);
    try {
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, wav);
      o.metrics.voicemailMessages.inc({ result: 'db_error' });
      log.error({ file, err: (err as Error).message }, 'MariaDB did not take the message; the recording is kept in the file');
    } catch (werr) {
      o.metrics.voicemailMessages.inc({ result: 'write_error' });
      log.error({ file, err: (err as Error).message, write: (werr as Error).message }, 'message lost: neither MariaDB nor the file took it');
    }
    return;
  }
  const file = voicemailFile(o.dir, ids.boxId, ids.id);
  try {
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, wav);
  } catch (err) {
    log.error({ file, messageId: ids.id, err: (err as Error).message }, 'recording file not written (the row holds the audio)');
  }
  o.metrics.voicemailMessages.inc({ result: 'saved' });
  log.info({ messageId: ids.id, file }, 'message saved');
  await o.notify(subscriberId);
}

function retrieval(o: VoicemailOptions, subscriberId: number): CallApp {
  let ctx: CallContext | null = null;
  let player: Player | null = null;
  let messages: BoxMessage[] = [];
  let at = -1; // the message the menu is about (-1: none yet)
  let over = false;
  let busy = false;
  let menuTimer: NodeJS.Timeout | null = null;
  let menuRepeats = 0;
  const clearMenu = (): void => {
    if (menuTimer) clearTimeout(menuTimer);
    menuTimer = null;
  };
  const say = (names: readonly string[], then: () => void, before?: Buffer): void => {
    if (over) return;
    const encoded = prompt(o, names, ctx!.remote.codec);
    player!.play(before ? Buffer.concat([before, encoded]) : encoded, then);
  };
  const goodbye = (): void => {
    clearMenu();
    at = -1;
    say(['vm-goodbye'], () => ctx!.hangup('completed'));
  };
  const waitDigit = (): void => {
    clearMenu();
    menuTimer = setTimeout(() => {
      if (++menuRepeats > MENU_REPEATS) return goodbye();
      say(['vm-menu'], waitDigit);
    }, o.menuTimeoutMs ?? 10_000);
  };
  const audioOf = async (m: BoxMessage, codec: G711Codec): Promise<Buffer | null> => {
    const wav = (await voicemailAudio(o.db, m.id)) ?? (await readFile(voicemailFile(o.dir, m.boxId, m.id)).catch(() => null));
    if (!wav) return null;
    try {
      return encode(readWav(wav), codec);
    } catch (err) {
      ctx!.log.warn({ messageId: m.id, err: (err as Error).message }, 'recording unreadable; skipped');
      return null;
    }
  };
  /** Play message `i` and the menu (past the last one: goodbye). */
  const present = async (i: number): Promise<void> => {
    clearMenu();
    menuRepeats = 0;
    for (; i < messages.length; i++) {
      const m = messages[i]!;
      const audio = await audioOf(m, ctx!.remote.codec);
      if (over) return;
      if (!audio) {
        ctx!.log.warn({ messageId: m.id }, 'message without a recording; skipped');
        continue;
      }
      at = i;
      if (m.isNew) {
        await markVoicemailRead(o.db, m.id);
        m.isNew = false;
        void o.notify(subscriberId);
      }
      return say(['vm-menu'], waitDigit, audio);
    }
    goodbye();
  };
  const act = async (digit: string): Promise<void> => {
    const m = messages[at]!;
    if (digit === '1') return present(at);
    if (digit === '#') return present(at + 1);
    if (digit === '7' || digit === '9') {
      clearMenu();
      player!.stop();
      if (digit === '7') {
        await deleteVoicemail(o.db, m.id);
        await rm(voicemailFile(o.dir, m.boxId, m.id), { force: true });
        ctx!.log.info({ subscriberId, messageId: m.id }, 'message deleted');
      } else {
        await moveVoicemail(o.db, m.id, 'Old');
        ctx!.log.info({ subscriberId, messageId: m.id }, 'message saved (Old)');
      }
      void o.notify(subscriberId);
      const next = at + 1;
      await new Promise<void>((resolve) => say([digit === '7' ? 'vm-deleted' : 'vm-saved'], () => resolve(present(next))));
    }
  };
  const onDigit = (digit: string): void => {
    ctx?.log.debug({ digit }, 'DTMF');
    if (over || busy || at < 0 || !'179#'.includes(digit)) return;
    busy = true;
    act(digit).catch((err: unknown) => {
      ctx!.log.error({ subscriberId, err: (err as Error).message }, 'retrieval failed; ending the call');
      goodbye();
    }).finally(() => (busy = false));
  };
  const detector = new DtmfDetector(onDigit);
  return {
    name: 'vm-retrieve',
    dtmf: true,
    start(c) {
      ctx = c;
      player = new Player(c);
      void (async () => {
        messages = await listBoxMessages(o.db, subscriberId);
        const fresh = messages.filter((m) => m.isNew).length;
        const saved = messages.length - fresh;
        c.log.info({ subscriberId, new: fresh, saved }, 'retrieval');
        if (messages.length === 0) return say(['vm-no-messages', 'vm-goodbye'], () => c.hangup('completed'));
        say(['vm-you-have', ...spokenNumber(fresh), 'vm-new-messages', 'vm-and', ...spokenNumber(saved), 'vm-saved-messages'], () => void present(0).catch((err: unknown) => {
          c.log.error({ subscriberId, err: (err as Error).message }, 'retrieval failed; ending the call');
          goodbye();
        }));
      })().catch((err: unknown) => {
        c.log.error({ subscriberId, err: (err as Error).message }, 'voicemail box not readable; ending the call');
        goodbye();
      });
    },
    onRtp(packet) {
      if (ctx?.remote.dtmfPayloadType == null) return;
      let h: ReturnType<typeof parseRtpHeader>;
      try {
        h = parseRtpHeader(packet);
      } catch {
        return;
      }
      if (h.payloadType === ctx.remote.dtmfPayloadType) detector.push(h.timestamp, h.payload);
    },
    ended() {
      over = true;
      clearMenu();
      player?.stop();
    },
  };
}
