/**
 * The app-server as a daemon of the skeleton: its config file, the sound set (default +
 * the operator's), the SIP stack on the internal address, the announcer with the
 * voicemail apps (with `voicemail` and `db` in the config), and the control methods
 * (`appserver.calls`, `appserver.sounds`, `appserver.mwi`). SIGHUP / `reload` reads the
 * sounds again.
 */
import { fileURLToPath } from 'node:url';
import type { DaemonDefinition } from '@ngcp/daemon';
import { RpcError, RPC_ERRORS } from '@ngcp/daemon';
import { createDb, type Db } from '@ngcp/db';
import type { SipStack } from '@ngcp/sip';
import { createSipStack } from '@ngcp/sip';
import { Announcer, type AnnouncementCall } from './announcer.js';
import { appserverDefaults, appserverSchema, checkAppserverConfig, type AppserverConfig } from './config.js';
import { createAppserverMetrics } from './metrics.js';
import { Mwi } from './mwi.js';
import { PACKET_MS, SAMPLES_PER_PACKET } from './rtp.js';
import { BUILTIN_SOUNDS_DIR } from './sound-set.js';
import { loadSounds, type SoundSet } from './sounds.js';
import { voicemailApps } from './voicemail.js';

const callSummary = (c: AnnouncementCall) => ({
  call_id: c.callId,
  name: c.name,
  state: c.state,
  from: c.dialog.remoteUri,
  codec: c.remote?.codec ?? null,
  remote_rtp: c.remote ? `${c.remote.address}:${c.remote.port}` : null,
  local_rtp_port: c.localPort,
  packets_sent: c.packetsSent,
  started: new Date(c.createdAt).toISOString(),
});

export const appserverDaemon: DaemonDefinition<AppserverConfig> = {
  name: 'appserver',
  schema: appserverSchema,
  defaults: appserverDefaults,
  check: checkAppserverConfig,
  control: (config) => config.control,
  build: ({ config, logger, metrics: registry }) => {
    const log = logger.child({ component: 'appserver' });
    const builtin = fileURLToPath(BUILTIN_SOUNDS_DIR);
    let set: SoundSet = { sounds: new Map(), refused: [] };
    const loadSet = (): void => {
      const next = loadSounds(builtin, config.sounds_dir);
      for (const r of next.refused) log.warn({ file: r.file, reason: r.reason }, 'operator sound refused (want WAV, PCM 8000 Hz mono 16-bit, named <name>.wav)');
      set = next;
      log.info({ sounds: [...set.sounds.keys()], operator: [...set.sounds.values()].filter((s) => s.source === 'operator').map((s) => s.name), refused: set.refused.length }, 'sounds loaded');
    };
    let sip: SipStack | null = null;
    let self = { address: config.listen.address, port: config.listen.udp_port };
    let announcer: Announcer | null = null;
    const metrics = createAppserverMetrics(registry, () => announcer?.active ?? 0);
    const vm = config.voicemail ?? null;
    const db: Db | null = vm && config.db ? createDb({ ...config.db, pool: { min: 0, max: config.db.pool_max ?? 4 }, acquireTimeoutMs: 5000 }) : null;
    const mwi = db && vm ? new Mwi({ db, proxy: vm.mwi_proxy ? { transport: 'udp', ...vm.mwi_proxy } : null, self: () => self, sip: () => sip!, logger, metrics }) : null;

    return {
      async start() {
        loadSet(); // a missing default set fails the start (the build did not render it)
        sip = createSipStack({
          listen: [{ transport: 'udp', address: config.listen.address, port: config.listen.udp_port }],
          resolver: false,
          transport: { role: 'uas', logger: log },
          onRequest: (tx, req) => announcer!.onRequest(tx, req),
          onAck: (ack) => announcer!.onAck(ack),
        });
        announcer = new Announcer({
          self: () => self, rtp: { address: config.listen.address, ...config.rtp }, repeat: config.announce_repeat,
          sounds: () => set.sounds, sip: () => sip!, logger, metrics,
          apps: db && vm && mwi ? voicemailApps({
            db, sounds: () => set.sounds, dir: vm.dir, maxMessageS: vm.max_message_s, minMessageMs: vm.min_message_ms, metrics,
            notify: (id) => mwi.notify(id),
          }) : undefined,
        });
        const [bound] = await sip.start();
        self = { address: config.listen.address, port: bound!.port };
        log.info({ sip: `udp:${self.address}:${self.port}`, rtp: `${config.rtp.min}-${config.rtp.max}`, repeat: config.announce_repeat, sounds_dir: config.sounds_dir, voicemail: vm?.dir ?? null, mwi_proxy: vm?.mwi_proxy ?? null }, 'appserver started');
      },
      async stop() {
        // BYE on every call; a recording being taken is written (file + row) before the stop goes on
        await announcer?.close();
        if (sip) {
          await sip.drain(2000);
          await sip.close();
        }
        await db?.destroy();
      },
      async reload() {
        loadSet();
      },
      health: () => ({ ok: sip !== null && set.sounds.size > 0, sip: sip !== null, sounds: set.sounds.size }),
      stats: () => ({ calls: announcer?.active ?? 0, sounds: set.sounds.size, sip: sip ? `udp:${self.address}:${self.port}` : null, transactions_live: sip?.stats().liveTransactions ?? 0 }),
      methods: {
        /** The announcements playing: `{ calls: [{ call_id, name, state, from, codec, remote_rtp, local_rtp_port, packets_sent, started }] }`. */
        'appserver.calls': async () => ({ calls: announcer?.list().map(callSummary) ?? [] }),
        /** MWI now for a box (the API after it changed a message): `{ subscriber_id }` → `{ subscriber_id, result: sent|no_subscriber|no_proxy|error, new, old }`. */
        'appserver.mwi': async (params: unknown) => {
          const id = (params as { subscriber_id?: unknown } | null)?.subscriber_id;
          if (typeof id !== 'number' || !Number.isInteger(id) || id < 1) throw new RpcError(RPC_ERRORS.INVALID_PARAMS, 'subscriber_id must be a positive integer', { field: 'subscriber_id' });
          if (!mwi) throw new RpcError(RPC_ERRORS.UNAVAILABLE, 'voicemail is not configured (voicemail, db)');
          const { answer: _answer, ...sent } = await mwi.notify(id);
          return sent;
        },
        /** The sound set: `{ sounds: [{ name, source: builtin|operator, file, duration_ms }], refused: [{ file, reason }] }`. */
        'appserver.sounds': async () => ({
          sounds: [...set.sounds.values()].sort((a, b) => a.name.localeCompare(b.name)).map((s) => ({
            name: s.name, source: s.source, file: s.file, duration_ms: Math.ceil(s.samples / SAMPLES_PER_PACKET) * PACKET_MS,
          })),
          refused: set.refused,
        }),
      },
    };
  },
};
