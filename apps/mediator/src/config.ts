/**
 * The mediator's own config: the rendered `etc/ngcp/mediator.yml` (template
 * ngcp-config/templates/etc/ngcp/mediator.yml.eta), its JSON Schema (checked once at start by
 * the daemon skeleton) and the defaults of the keys a hand-written file may omit.
 */
import { commonSchemas, type ControlConfig, type DbConnConfig, type JSONSchemaType, type LogConfig } from '@ngcp/daemon';

export interface MediatorConfig {
  /** Name of this node (log field). */
  node: string;
  /** JSON-RPC control endpoint and `/metrics`. */
  control: ControlConfig;
  log: LogConfig;
  /** The node's MariaDB: `acc` is read, `cdrs` written. */
  db: DbConnConfig;
  /** Pause between passes while there is no backlog (a full batch starts the next pass at once). */
  interval_ms: number;
  /** Calls (at most) turned into CDRs per pass, in one transaction. */
  batch: number;
  /** An answered call (start record) without a stop record this long gets a CDR with status `timeout`. */
  leftover_after_s: number;
  /** A stop record whose start record has not arrived this long gets a CDR of its own. */
  stop_wait_s: number;
  /** Mediated accounting records older than this many days are deleted (their CDRs stay); 0 keeps them. */
  acc_keep_days: number;
}

export const mediatorSchema: JSONSchemaType<MediatorConfig> = {
  type: 'object',
  properties: {
    node: { type: 'string', minLength: 1 },
    control: commonSchemas.control,
    log: commonSchemas.log,
    db: commonSchemas.db,
    interval_ms: { type: 'integer', minimum: 10, maximum: 3_600_000 },
    batch: { type: 'integer', minimum: 1, maximum: 100_000 },
    leftover_after_s: { type: 'integer', minimum: 1 },
    stop_wait_s: { type: 'integer', minimum: 1 },
    acc_keep_days: { type: 'integer', minimum: 0, maximum: 36_500 },
  },
  required: ['node', 'control', 'log', 'db', 'interval_ms', 'batch', 'leftover_after_s', 'stop_wait_s', 'acc_keep_days'],
  additionalProperties: false,
};

/** Keys a hand-written file may omit (the rendered file has them all). */
export const mediatorDefaults = {
  node: 'self',
  log: { level: 'info' },
  interval_ms: 10_000,
  batch: 2000,
  leftover_after_s: 7260,
  stop_wait_s: 60,
  acc_keep_days: 30,
} as const satisfies Partial<MediatorConfig>;
