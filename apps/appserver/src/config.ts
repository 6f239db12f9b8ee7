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
  /** The node's MariaDB: not used by this release (voicemail will); accepted so the rendered file loads. */
  db?: DbConnConfig;
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

/** Checks across keys: the RTP range must be a range. */
export function checkAppserverConfig(c: AppserverConfig): DaemonConfigProblem[] {
  return c.rtp.min > c.rtp.max ? [{ path: 'rtp.max', message: `must be ≥ rtp.min (${c.rtp.min})` }] : [];
}
