/** hbd as a daemon of the skeleton: its config file, control endpoint and the HaNode it builds. */
import type { DaemonDefinition } from '@ngcp/daemon';
import { hbdDefaults, hbdProblems, hbdSchema, type HbdConfig } from './config.js';
import { HaNode } from './ha-node.js';

export const hbdDaemon: DaemonDefinition<HbdConfig> = {
  name: 'hbd',
  schema: hbdSchema,
  defaults: hbdDefaults,
  check: hbdProblems,
  control: (config) => config.control,
  // SIGTERM on the active node hands over first (bounded by switchover_timeout_ms), then runs the standby steps.
  stopTimeoutMs: (config) => config.switchover_timeout_ms + 6 * config.step_timeout_ms + 1000,
  build: ({ config, logger, metrics }) => new HaNode({ config, logger, metrics }),
};
