/**
 * The UAS of the app-server's calls: an INVITE is answered 200 OK with SDP at once (PCMU
 * or PCMA, whichever the offer lists first; no offer: ours, answered in the ACK), with an
 * RTP socket of its own, and handed to the call's application (`CallApp`): the
 * announcement of `sip:announce.<name>@<us>` (the named sound played `repeat` times, then
 * our BYE), or what `apps` makes of other Request-URIs (voicemail, voicemail.ts). A BYE
 * (or, before the 200, a CANCEL) of the caller ends it at once. Calls live in this
 * process only: a failover cuts them (README).
 */
import type { Socket } from 'node:dgram';
import { isIP } from 'node:net';
import type { Logger } from '@ngcp/daemon';
import type { DialogRecord, Destination, ServerTransaction, SipRequest, SipResponse, SipStack, TimerScheduler } from '@ngcp/sip';
import { createInDialogRequest, createResponse, createUasDialog, newTag, nodeScheduler, receiveInDialog, SipParseError } from '@ngcp/sip';
import { SILENCE } from './g711.js';
import type { AppserverMetrics, CallResult } from './metrics.js';
import { Pacer, RtpStream } from './rtp.js';
import { openRtpSocket } from './rtp-socket.js';
import { answerDirection, answerSdp, offerSdp, readRemote, sends, type Direction, type RemoteMedia } from './sdp.js';
import type { Sound } from './sounds.js';

const ALLOW = 'INVITE, ACK, BYE, CANCEL, OPTIONS';
/** The user part of a Request-URI the app-server plays: `announce.<name>`. */
const ANNOUNCE = /^announce\.(.+)$/;

/** What a call's application sees of the call. */
export interface CallContext {
  callId: string;
  /** The caller: the user part (else the URI) of P-Asserted-Identity, else of From. */
  caller: string;
  remote: RemoteMedia;
  /** One RTP packet to the other side (nothing when our direction does not send). */
  send(packet: Buffer): void;
  /** End the call with our BYE (after the ACK, RFC 3261 §15). */
  hangup(result: CallResult): void;
  clock: TimerScheduler;
  log: Logger;
}

/**
 * What answers one call: started once the other side's media is known (with the 200, or at
 * the ACK of a late offer), fed the RTP that arrives, told when the call is over.
 */
export interface CallApp {
  /** The metric label and log name: the sound's name, `vm-deposit`, `vm-retrieve`. */
  name: string;
  /** Also take RFC 4733 telephone-event in the SDP (voicemail's menu). */
  dtmf?: boolean;
  start(ctx: CallContext): void;
  onRtp?(packet: Buffer): void;
  /** The call ended (either side's BYE, no ACK, shutdown); a promise the daemon's stop waits for (a recording being written). */
  ended?(result: CallResult): void | Promise<void>;
}

/** The apps of Request-URIs other than `announce.<name>`: null → 404. May ask the database (a rejection → 500). */
export type AppResolver = (user: string, req: SipRequest) => CallApp | null | Promise<CallApp | null>;

export interface AnnouncerOptions {
  /** Our SIP listener (Via and Contact); its port is known once the stack listens. */
  self: () => { address: string; port: number };
  /** The RTP sockets' address and port range. */
  rtp: { address: string; min: number; max: number };
  repeat: number;
  sounds: () => ReadonlyMap<string, Sound>;
  sip: () => SipStack;
  logger: Logger;
  metrics: AppserverMetrics;
  /** The pacer's clock (default: Node timers). */
  clock?: TimerScheduler;
  /** SIP T1 (ms): 2xx retransmission start, 64·T1 the wait for the ACK. Default 500. */
  t1?: number;
  /** The calls that are no announcement (voicemail). */
  apps?: AppResolver;
}

export interface AnnouncementCall {
  callId: string;
  name: string;
  app: CallApp;
  dialog: DialogRecord;
  inviteSeq: number;
  /** answered: 200 sent, playing: RTP going out, ended: BYE sent or received */
  state: 'answered' | 'playing' | 'ended';
  acked: boolean;
  /** The app ended the call before the ACK came: our BYE waits for it (RFC 3261 §15). */
  byeAfterAck: CallResult | null;
  socket: Socket;
  localPort: number;
  remote: RemoteMedia | null;
  direction: Direction | null;
  packetsSent: number;
  caller: string;
  createdAt: number;
  timers: NodeJS.Timeout[];
}

export class Announcer {
  private readonly calls = new Map<string, AnnouncementCall>();
  private readonly log: Logger;
  private readonly clock: TimerScheduler;
  private readonly t1: number;
  /** What the apps still do after their call ended (a recording being saved). */
  private readonly pending = new Set<Promise<void>>();

  constructor(private readonly o: AnnouncerOptions) {
    this.log = o.logger.child({ component: 'announcer' });
    this.clock = o.clock ?? nodeScheduler;
    this.t1 = o.t1 ?? 500;
  }

  get active(): number {
    return this.calls.size;
  }

  list(): AnnouncementCall[] {
    return [...this.calls.values()];
  }

  onRequest(tx: ServerTransaction, req: SipRequest): void {
    let work: Promise<void> | void;
    try {
      work = req.to().tag ? this.inDialog(tx, req) : this.outOfDialog(tx, req);
    } catch (err) {
      work = Promise.reject(err);
    }
    void Promise.resolve(work).catch((err: unknown) => {
      // a header that does not parse is the sender's fault (400 by default); anything else is ours
      const status = err instanceof SipParseError ? (err.status ?? 400) : 500;
      this.log.warn({ method: req.method, status, err: (err as Error).message }, 'request failed');
      if (tx.canRespond(status)) tx.respond(createResponse(req, status, { toTag: newTag() }));
    });
  }

  /** A response of ours; the To-tag is added only where the request's To has none (out of dialog). */
  private reply(tx: ServerTransaction, req: SipRequest, status: number, headers: Array<[string, string]> = []): void {
    tx.respond(createResponse(req, status, { headers, toTag: newTag() }));
  }

  private async outOfDialog(tx: ServerTransaction, req: SipRequest): Promise<void> {
    if (req.method === 'OPTIONS') return this.reply(tx, req, 200, [['Allow', ALLOW], ['Accept', 'application/sdp']]);
    if (req.method !== 'INVITE') return this.reply(tx, req, 405, [['Allow', ALLOW]]);
    const callId = req.callId();
    const ruri = req.requestUri();
    const user = ruri.isSip ? (ruri.user ?? '') : '';
    const name = ANNOUNCE.exec(user)?.[1];
    const sound = name === undefined ? undefined : this.o.sounds().get(name);
    const app = sound ? announcement(sound, this.o.repeat) : name === undefined && this.o.apps && user ? await this.o.apps(user, req) : null;
    if (!app) {
      this.log.info({ callId, ruri: req.uri }, 'no such announcement or service; answered 404');
      this.o.metrics.calls.inc({ name: 'unknown', result: 'not_found' });
      return this.reply(tx, req, 404);
    }
    if (!tx.canRespond(200)) {
      // a CANCEL while the app was looked up (the database): the stack answered it 487
      this.log.info({ callId, name: app.name }, 'cancelled before the answer');
      this.o.metrics.calls.inc({ name: app.name, result: 'cancelled' });
      return;
    }
    const reject = (status: number, headers: Array<[string, string]>, why: string): void => {
      this.log.info({ callId, name: app.name, status, why }, 'call rejected');
      this.o.metrics.calls.inc({ name: app.name, result: 'rejected' });
      this.reply(tx, req, status, headers);
    };
    const required = req.optionTags('require');
    if (required.length > 0) return reject(420, [['Unsupported', required.join(', ')]], 'Require');
    if (this.calls.has(callId)) return this.reply(tx, req, 482); // the same call again: a loop
    const contacts = req.contacts();
    if (contacts === '*' || contacts.length !== 1) return reject(400, [], 'an INVITE needs one Contact (RFC 3261 §8.1.1.8)');
    let remote: RemoteMedia | null = null;
    if (req.body.length > 0) {
      const type = (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
      if (type !== 'application/sdp') return reject(415, [['Accept', 'application/sdp']], `body of type ${type || 'none'}`);
      const offer = readRemote(req.body);
      if (!offer.ok) return reject(488, [['Warning', `305 appserver "${offer.reason.replaceAll('"', "'")}"`]], offer.reason);
      remote = offer.media;
    }
    let cancelled = false;
    tx.user = {
      onCancel: () => {
        cancelled = true;
        this.log.info({ callId, name: app.name }, 'cancelled before the answer');
        this.o.metrics.calls.inc({ name: app.name, result: 'cancelled' });
        this.reply(tx, req, 487);
      },
    };
    let socket: Socket;
    try {
      socket = await openRtpSocket(this.o.rtp.address, this.o.rtp);
    } catch (err) {
      this.log.error({ callId, err: (err as Error).message }, 'no RTP socket; answered 500');
      this.o.metrics.calls.inc({ name: app.name, result: 'failed' });
      if (!cancelled) this.reply(tx, req, 500, [['Retry-After', '5']]);
      return;
    }
    if (cancelled) return void socket.close();
    socket.on('error', (err) => this.log.warn({ callId, err: err.message }, 'RTP socket error'));
    const localPort = socket.address().port;
    const local = { address: this.o.rtp.address, port: localPort, sessionId: String(Date.now()) };
    const ok = createResponse(req, 200, {
      toTag: newTag(),
      copyRecordRoute: true,
      headers: [['Contact', `<sip:${hostOf(this.o.self().address)}:${this.o.self().port};transport=udp>`], ['Allow', ALLOW]],
    });
    ok.setBody(remote ? answerSdp(local, remote, { dtmf: app.dtmf }) : offerSdp(local, { dtmf: app.dtmf }), 'application/sdp');
    const call: AnnouncementCall = {
      callId, name: app.name, app, dialog: createUasDialog(req, ok), inviteSeq: req.cseq().seq,
      state: 'answered', acked: false, byeAfterAck: null, socket, localPort, remote,
      direction: remote ? answerDirection(remote.direction) : null, packetsSent: 0, caller: callerOf(req), createdAt: Date.now(), timers: [],
    };
    this.calls.set(callId, call);
    // the other side's media goes to the app once it has started (the answer is known)
    socket.on('message', (msg) => {
      if (call.state === 'playing') call.app.onRtp?.(msg);
    });
    tx.respond(ok);
    this.retransmit2xx(call, tx, ok);
    this.log.info({ callId, name: app.name, rtp: localPort, remote: remote ? `${remote.address}:${remote.port}` : 'late offer', codec: remote?.codec }, 'call answered');
    // with the offer in the INVITE the media may start with our 200 (RFC 3264 §5.1)
    if (remote) this.play(call);
  }

  /** RFC 3261 §13.3.1.4: our 2xx again at T1, doubling up to T2 (4 s), until the ACK; none in 64·T1: BYE. */
  private retransmit2xx(call: AnnouncementCall, tx: ServerTransaction, ok: SipResponse): void {
    let interval = this.t1;
    const until = Date.now() + 64 * this.t1;
    const tick = (): void => {
      if (call.acked || call.state === 'ended') return;
      if (Date.now() >= until) {
        this.log.warn({ callId: call.callId }, 'no ACK for our 200; ending the call');
        return this.bye(call, 'no_ack');
      }
      tx.respond(ok);
      interval = Math.min(interval * 2, 8 * this.t1);
      call.timers.push(setTimeout(tick, Math.min(interval, Math.max(0, until - Date.now()))).unref());
    };
    call.timers.push(setTimeout(tick, interval).unref());
  }

  onAck(ack: SipRequest): void {
    let call: AnnouncementCall | undefined;
    try {
      call = this.calls.get(ack.callId());
      if (!call || call.acked || ack.cseq().seq !== call.inviteSeq || ack.to().tag !== call.dialog.id.localTag) return;
    } catch {
      return; // an ACK that does not parse cannot be answered: dropped
    }
    call.acked = true;
    if (call.state === 'ended') return;
    if (!call.remote) {
      // late offer: the ACK carries the answer to our offer (RFC 3261 §13.2.1)
      const answer = ack.body.length > 0 ? readRemote(ack.body) : ({ ok: false, reason: 'ACK without SDP' } as const);
      if (!answer.ok) {
        this.log.info({ callId: call.callId, why: answer.reason }, 'no usable answer in the ACK; ending the call');
        return this.bye(call, 'rejected');
      }
      call.remote = answer.media;
      // the answer's direction is already the answerer's view of our sendrecv offer
      call.direction = answerDirection(answer.media.direction);
      this.play(call);
      return;
    }
    if (call.byeAfterAck) this.bye(call, call.byeAfterAck);
  }

  /** The media is known: the app starts. */
  private play(call: AnnouncementCall): void {
    const remote = call.remote!;
    const out = sends(call.direction ?? 'sendrecv', remote);
    call.state = 'playing';
    call.app.start({
      callId: call.callId, caller: call.caller, remote, clock: this.clock, log: this.log.child({ callId: call.callId, app: call.name }),
      send: (packet) => {
        if (!out || call.state === 'ended') return;
        call.socket.send(packet, remote.port, remote.address);
        call.packetsSent++;
        this.o.metrics.rtpPackets.inc();
      },
      hangup: (result) => {
        if (call.acked) this.bye(call, result);
        else call.byeAfterAck = result;
      },
    });
  }

  private async inDialog(tx: ServerTransaction, req: SipRequest): Promise<void> {
    const call = this.calls.get(req.callId());
    if (!call || req.to().tag !== call.dialog.id.localTag || req.from().tag !== call.dialog.id.remoteTag) return this.reply(tx, req, 481);
    const check = receiveInDialog(call.dialog, req);
    if (!check.ok) return this.reply(tx, req, check.status);
    call.dialog = check.dialog;
    if (req.method === 'BYE') {
      this.reply(tx, req, 200);
      this.log.info({ callId: call.callId, name: call.name, packets: call.packetsSent }, 'caller hung up');
      return this.end(call, 'caller_hangup');
    }
    // a new offer mid-announcement is not taken (the session stays as it is, RFC 3261 §14.2)
    if (req.method === 'INVITE' || req.method === 'UPDATE') return this.reply(tx, req, 488, [['Warning', '399 appserver "the app-server takes no re-offer"']]);
    if (req.method === 'OPTIONS' || req.method === 'INFO') return this.reply(tx, req, 200, [['Allow', ALLOW]]);
    return this.reply(tx, req, 405, [['Allow', ALLOW]]);
  }

  /** Our BYE (through the dialog's route set, i.e. back through the proxy), then the call ends. */
  private bye(call: AnnouncementCall, result: CallResult): void {
    if (call.state === 'ended') return;
    const { request, dialog } = createInDialogRequest(call.dialog, 'BYE', {
      via: { transport: 'UDP', host: hostOf(this.o.self().address), port: this.o.self().port },
      headers: result === 'completed' ? [] : [['Reason', `SIP;cause=200;text="${result}"`]],
    });
    call.dialog = dialog;
    const dest = nextHop(request);
    if (dest) {
      this.o.sip().sendRequest(request, dest, {
        onFinal: (res) => this.log.debug({ callId: call.callId, status: res.status }, 'BYE answered'),
      });
    } else this.log.warn({ callId: call.callId, target: request.uri }, 'BYE has no IP next hop; call dropped');
    this.log.info({ callId: call.callId, name: call.name, result, packets: call.packetsSent }, 'call ended');
    this.end(call, result);
  }

  private end(call: AnnouncementCall, result: CallResult): void {
    if (call.state === 'ended') return;
    call.state = 'ended';
    for (const t of call.timers) clearTimeout(t);
    call.socket.close();
    this.calls.delete(call.callId);
    this.o.metrics.calls.inc({ name: call.name, result });
    let after: void | Promise<void>;
    try {
      after = call.app.ended?.(result);
    } catch (err) {
      after = Promise.reject(err);
    }
    if (after) {
      const p = after.catch((err: unknown) => this.log.error({ callId: call.callId, name: call.name, err: (err as Error).message }, 'ending the call failed'))
        .finally(() => this.pending.delete(p));
      this.pending.add(p);
    }
  }

  /** Every call ended with our BYE (a stopping daemon); resolves when the apps are done (a recording written). */
  async close(): Promise<void> {
    for (const call of [...this.calls.values()]) this.bye(call, 'shutdown');
    await Promise.all([...this.pending]);
  }
}

/** An announcement: the sound played `repeat` times back to back, then our BYE. */
export function announcement(sound: Sound, repeat: number): CallApp {
  let pacer: Pacer | null = null;
  return {
    name: sound.name,
    start(ctx) {
      const { codec, payloadType } = ctx.remote;
      const stream = new RtpStream({ encoded: sound.encoded[codec], payloadType, silence: SILENCE[codec], repeat });
      pacer = new Pacer(ctx.clock, stream.count, (i) => ctx.send(stream.packet(i)), () => ctx.hangup('completed'));
      pacer.begin();
    },
    ended() {
      pacer?.stop();
    },
  };
}

/** The caller of a request: P-Asserted-Identity's (else From's) URI user, else the URI. */
export function callerOf(req: SipRequest): string {
  for (const value of [req.get('p-asserted-identity'), req.get('from')]) {
    if (!value) continue;
    const uri = /<([^>]+)>/.exec(value)?.[1] ?? value.split(';')[0]!.trim();
    const user = /^(?:sips?|tel):([^@;]+)@/.exec(uri)?.[1] ?? /^tel:([^;]+)/.exec(uri)?.[1];
    if (user) return decodeURIComponent(user).slice(0, 255);
    if (uri) return uri.slice(0, 255);
  }
  return '';
}

const hostOf = (address: string): string => (isIP(address) === 6 ? `[${address}]` : address);

/** Where a request of ours goes: its first Route (the proxy's Record-Route), else its Request-URI; an IP address, no DNS. */
export function nextHop(req: SipRequest): Destination | undefined {
  const uri = req.routes()[0]?.uri ?? req.requestUri();
  if (!uri.isSip || isIP(uri.hostname) === 0) return undefined;
  return { transport: uri.transport ?? 'udp', address: uri.hostname, port: uri.port ?? 5060 };
}
