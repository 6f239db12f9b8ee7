/** The contract between `runDaemon` and one daemon of `apps/`. */
import type { RpcHandler } from '@ngcp/rpc';
import type { JSONSchemaType } from 'ajv';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';

/** What `health` answers; `ok: false` makes the RPC answer UNAVAILABLE with this report as `data`. */
export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

export interface Daemon {
  /** Bind sockets, connect; no side effects before this. */
  start(): Promise<void>;
  /** Graceful drain, then close everything. */
  stop(): Promise<void>;
  health(): HealthReport | Promise<HealthReport>;
  stats?(): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Re-read caches (provisioning); NOT the config file (that takes a restart). */
  reload?(): Promise<void>;
  /** Extra control methods, named `<area>.<verb>`. */
  methods?: Record<string, RpcHandler>;
  /** GET /metrics text instead of the registry's own (a daemon summing its worker processes' registries). */
  metricsText?(): Promise<{ contentType: string; text: string }>;
}

export interface DaemonContext<C> {
  name: string;
  config: Readonly<C>;
  /** The root logger's child for this daemon; make children per component. */
  logger: Logger;
  /** Default process metrics already in it, default label `{daemon: name}`; GET /metrics on the control port serves it. */
  metrics: Registry;
  configPath?: string;
}

export type DeepPartial<T> = T extends readonly (infer _U)[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;

/** A problem the schema cannot express (a relation between keys): the key path (`paging.default_rows`) and the problem. */
export interface DaemonConfigProblem {
  path: string;
  message: string;
}

/** What reading a daemon's config file needs: also used alone by apps that are not control-endpoint daemons (the API). */
export interface DaemonConfigDefinition<C> {
  /** `lb` → config file from env `NGCP_LB_CONFIG`, logger name `ngcp-lb`, metrics label `{daemon: "lb"}`. */
  name: string;
  /** ajv, like @ngcp/config's schema.ts; `format: 'ip'` is known. */
  schema: JSONSchemaType<C>;
  /** Merged under the file before validation (maps key by key; lists and scalars replace). */
  defaults?: NoInfer<DeepPartial<C>>;
  /** Checks across keys, after the schema passed; each problem is reported with its file line. */
  check?(config: NoInfer<C>): DaemonConfigProblem[];
}

export interface DaemonDefinition<C> extends DaemonConfigDefinition<C> {
  /** Where the control endpoint (JSON-RPC, /metrics) listens. */
  control(config: C): { address: string; port: number };
  /** How long `stop()` may take on SIGTERM before the process exits anyway (default 10 s). */
  stopTimeoutMs?(config: C): number;
  build(ctx: DaemonContext<C>): Daemon | Promise<Daemon>;
}
