/** The mediator as a daemon of the skeleton: its config file, control endpoint and the Mediator it runs. */
import type { DaemonDefinition } from '@ngcp/daemon';
import { createDb } from '@ngcp/db';
import { mediatorDefaults, mediatorSchema, type MediatorConfig } from './config.js';
import { Mediator } from './mediator.js';
import { createMediatorMetrics } from './metrics.js';

export const mediatorDaemon: DaemonDefinition<MediatorConfig> = {
  name: 'mediator',
  schema: mediatorSchema,
  defaults: mediatorDefaults,
  control: (config) => config.control,
  build: ({ config, logger, metrics }) => {
    const db = createDb({ ...config.db, pool: { min: 0, max: config.db.pool_max ?? 2 }, acquireTimeoutMs: 5000 });
    const mediator = new Mediator({
      db, logger: logger.child({ component: 'mediator' }), metrics: createMediatorMetrics(metrics),
      intervalMs: config.interval_ms, batch: config.batch, leftoverAfterS: config.leftover_after_s, stopWaitS: config.stop_wait_s, accKeepDays: config.acc_keep_days,
    });
    const stats = () => ({ ...mediator.totals, standby: mediator.standby, backlog: mediator.backlog, last: mediator.last });
    return {
      async start() {
        mediator.start();
        logger.info({ interval_ms: config.interval_ms, batch: config.batch }, 'mediator started');
      },
      async stop() {
        await mediator.stop();
        await db.destroy();
      },
      // healthy while passes succeed (a standby idling is healthy); the last error otherwise
      health: () => ({ ok: !mediator.last?.error, standby: mediator.standby, backlog: mediator.backlog, ...(mediator.last?.error ? { error: mediator.last.error } : {}) }),
      stats,
      methods: {
        /** one pass now; answers what it did (cdrs written, duplicates, records, calls still open, standby) */
        'mediator.run': async () => mediator.run(),
        'mediator.stats': async () => stats(),
      },
    };
  },
};
