/**
 * @ngcp/appserver — the app-server: answers the proxy's announcement calls
 * (`sip:announce.<name>@…`, the sound as G.711 RTP, then BYE) and voicemail calls
 * (`sip:vm-deposit.<id>@…`, `sip:vm-retrieve.<id>@…`), and sends MWI. See README.md.
 */
export { appserverDaemon } from './daemon.js';
export { Announcer, nextHop, announcement, callerOf } from './announcer.js';
export { Player } from './player.js';
export type { PlayerTarget } from './player.js';
export type { AnnouncerOptions, AnnouncementCall, CallApp, CallContext, AppResolver } from './announcer.js';
export { appserverSchema, appserverDefaults, checkAppserverConfig } from './config.js';
export type { AppserverConfig, VoicemailConfig } from './config.js';
export { voicemailApps, spokenNumber, VOICEMAIL_SERVICE, MENU_REPEATS } from './voicemail.js';
export type { VoicemailOptions } from './voicemail.js';
export { Mwi, messageSummary } from './mwi.js';
export type { MwiOptions, MwiResult, MwiSent } from './mwi.js';
export { RtpRecorder, MAX_JUMP } from './recorder.js';
export type { PushResult } from './recorder.js';
export { DtmfDetector, parseTelephoneEvent, telephoneEventPayload, telephoneEventPackets, DTMF_EVENTS } from './dtmf.js';
export type { TelephoneEvent, EventStream } from './dtmf.js';
export { createAppserverMetrics } from './metrics.js';
export type { AppserverMetrics, CallResult, VoicemailResult } from './metrics.js';
export { linearToUlaw, linearToAlaw, ulawToLinear, alawToLinear, encode, PAYLOAD_TYPE, SILENCE } from './g711.js';
export type { G711Codec } from './g711.js';
export { rtpPacket, parseRtpHeader, RtpStream, Pacer, SAMPLES_PER_PACKET, PACKET_MS } from './rtp.js';
export type { RtpHeader, StreamOptions } from './rtp.js';
export { readRemote, answerSdp, offerSdp, answerDirection, sends, OFFER_DTMF_PAYLOAD_TYPE } from './sdp.js';
export type { Direction, RemoteMedia, SdpResult, Local } from './sdp.js';
export { loadSounds } from './sounds.js';
export type { Sound, SoundSet, RefusedSound } from './sounds.js';
export { DEFAULT_SOUNDS, DEFAULT_TONES, DEFAULT_SOUND_NAMES, SOUND_NAME, BUILTIN_SOUNDS_DIR } from './sound-set.js';
export { readWav, writeWav, WavError } from './wav.js';
export type { WavFormat } from './wav.js';
export { openRtpSocket, NoRtpPortError } from './rtp-socket.js';
