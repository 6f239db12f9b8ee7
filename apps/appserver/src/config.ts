/**
 * The app-server's own config: the rendered `etc/ngcp/appserver.yml` (template
 * ngcp-config/templates/etc/ngcp/appserver.yml.eta, from config.yml's `appserver`
 * section), its JSON Schema (checked once at start by the daemon skeleton) and the
 * defaults of the keys a hand-written file may omit. Keys: README.md.
 */
import { commonSchemas, type ControlConfig, type DaemonConfigProblem, type DbConnConfig, type JSONSchemaType, type LogConfig } from '@ngcp/daemon';

export interface AppserverConfig {
  /** Name of this node (log field). */
  node: string;
  /** Internal UDP listener: where the proxy sends `sip:announce.<name>@…` calls. */
  listen: { address: string; udp_port: number };
  /** JSON-RPC control endpoint and `/metrics`. */
  control: ControlConfig;
  log: LogConfig;
  /** The UDP ports (inclusive) of the announcements' RTP sockets, one per call, on `listen.address`. */
  rtp: { min: number; max: number };
  /** How many times a sound is played before the BYE (≥ 1). */
  announce_repeat: number;
  /** The operator's WAV files (8 kHz mono 16-bit): `<name>.wav` replaces or adds the sound `<name>`; null: none. */
  sounds_dir: string | null;
  /** The node's MariaDB: voicemail's boxes and messages (required with `voicemail`). */
  db?: DbConnConfig;
  /** Voicemail (deposit, retrieval, MWI); absent or null: `vm-*` calls get 404. */
  voicemail?: VoicemailConfig | null;
}

export interface VoicemailConfig {
  /** Where recordings are written (absolute): `<dir>/<box id>/<message id>.wav`, `<dir>/unsaved/` when MariaDB was away. */
  dir: string;
  /** The longest message (s): then our BYE. */
  max_message_s: number;
  /** A shorter recording is discarded (ms). */
  min_message_ms: number;
  /** The proxy's internal SIP listener: where MWI NOTIFYs go; null: no MWI. */
  mwi_proxy: { address: string; port: number } | null;
}

const port = { type: 'integer', minimum: 1, maximum: 65535 } as const;

export const appserverSchema: JSONSchemaType<AppserverConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1 },
    listen: commonSchemas.udpListen,
    control: commonSchemas.control,
    log: commonSchemas.log,
    rtp: { type: 'object', properties: { min: port, max: port }, required: ['min', 'max'], additionalProperties: false },
    announce_repeat: { type: 'integer', minimum: 1, maximum: 100 },
    sounds_dir: { type: 'string', minLength: 1, nullable: true },
    db: { ...commonSchemas.db, nullable: true },
    voicemail: {
      type: 'object',
      nullable: true,
      properties: {
        dir: { type: 'string', pattern: '^/' },
        max_message_s: { type: 'integer', minimum: 1, maximum: 600 },
        min_message_ms: { type: 'integer', minimum: 0, maximum: 60_000 },
        mwi_proxy: { type: 'object', nullable: true, properties: { address: { type: 'string', minLength: 1 }, port }, required: ['address', 'port'], additionalProperties: false },
      },
      required: ['dir', 'max_message_s', 'min_message_ms', 'mwi_proxy'],
      additionalProperties: false,
    },
  },
  required: ['node', 'listen', 'control', 'log', 'rtp', 'announce_repeat', 'sounds_dir'],
  additionalProperties: false,
} as unknown as JSONSchemaType<AppserverConfig>;

/** Keys a hand-written file may omit (the rendered file has them all). */
export const appserverDefaults = {
  node: 'self',
  log: { level: 'info' },
  rtp: { min: 10000, max: 20000 },
  announce_repeat: 1,
  sounds_dir: null,
} as const satisfies Partial<AppserverConfig>;

/** Checks across keys: the RTP range must be a range; voicemail needs the database. */
export function checkAppserverConfig(c: AppserverConfig): DaemonConfigProblem[] {
  const problems: DaemonConfigProblem[] = [];
  if (c.rtp.min > c.rtp.max) problems.push({ path: 'rtp.max', message: `must be ≥ rtp.min (${c.rtp.min})` });
  if (c.voicemail && !c.db) problems.push({ path: 'db', message: 'voicemail needs the database (db)' });
  return problems;
}
