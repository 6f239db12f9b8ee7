/** mediactl as a daemon of the skeleton: its config file, control endpoint and the Mediactl it builds. */
import { RpcError, type DaemonDefinition } from '@ngcp/daemon';
import { mediactlDefaults, mediactlSchema, targetProblems, type MediactlConfig } from './config.js';
import { Mediactl } from './mediactl.js';

export const mediactlDaemon: DaemonDefinition<MediactlConfig> = {
  name: 'mediactl',
  schema: mediactlSchema,
  defaults: mediactlDefaults,
  check: (config) => targetProblems(config.rtpengines),
  control: (config) => config.control,
  build: ({ config, logger, metrics }) =>
    new Mediactl({ config, logger, metrics, toControlError: (err) => new RpcError(err.rpcCode, err.message, err.data) }),
};
