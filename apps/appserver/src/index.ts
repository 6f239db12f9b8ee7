/**
 * @ngcp/appserver — the app-server: answers the proxy's announcement calls
 * (`sip:announce.<name>@…`), plays the sound as G.711 RTP, then BYE. See README.md.
 */
export { appserverDaemon } from './daemon.js';
export { Announcer, nextHop } from './announcer.js';
export type { AnnouncerOptions, AnnouncementCall } from './announcer.js';
export { appserverSchema, appserverDefaults, checkAppserverConfig } from './config.js';
export type { AppserverConfig } from './config.js';
export { createAppserverMetrics } from './metrics.js';
export type { AppserverMetrics, CallResult } from './metrics.js';
export { linearToUlaw, linearToAlaw, ulawToLinear, alawToLinear, encode, PAYLOAD_TYPE, SILENCE } from './g711.js';
export type { G711Codec } from './g711.js';
export { rtpPacket, parseRtpHeader, RtpStream, Pacer, SAMPLES_PER_PACKET, PACKET_MS } from './rtp.js';
export type { RtpHeader, StreamOptions } from './rtp.js';
export { readRemote, answerSdp, offerSdp, answerDirection, sends } from './sdp.js';
export type { Direction, RemoteMedia, SdpResult, Local } from './sdp.js';
export { loadSounds } from './sounds.js';
export type { Sound, SoundSet, RefusedSound } from './sounds.js';
export { DEFAULT_SOUNDS, SOUND_NAME, BUILTIN_SOUNDS_DIR } from './sound-set.js';
export { readWav, writeWav, WavError } from './wav.js';
export type { WavFormat } from './wav.js';
export { openRtpSocket, NoRtpPortError } from './rtp-socket.js';
