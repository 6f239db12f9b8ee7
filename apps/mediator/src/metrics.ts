/** The mediator's Prometheus metrics, registered on the Registry the daemon passes in. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface MediatorMetrics {
  cdrs: Counter<'status' | 'outcome'>;
  duplicates: Counter;
  accRecords: Counter;
  passSeconds: Histogram;
  errors: Counter;
  backlog: Gauge;
  standby: Gauge;
  purged: Counter;
}

export function createMediatorMetrics(registry: Registry): MediatorMetrics {
  const registers = [registry];
  return {
    cdrs: new Counter({
      name: 'mediator_cdrs_total',
      help: 'CDRs written, by call status and by why (answered, failed, leftover_start: no stop record in time, lone_stop: no start record in time)',
      labelNames: ['status', 'outcome'],
      registers,
    }),
    duplicates: new Counter({ name: 'mediator_duplicates_total', help: 'Calls whose CDR existed already (a pass repeated after a restart, or a second mediator): not written again', registers }),
    accRecords: new Counter({ name: 'mediator_acc_records_total', help: 'Accounting records marked mediated', registers }),
    passSeconds: new Histogram({
      name: 'mediator_pass_seconds',
      help: 'Duration of a pass that wrote CDRs (read, look up, one transaction)',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    errors: new Counter({ name: 'mediator_errors_total', help: 'Passes that failed (MariaDB unreachable or refusing); the pass is retried within a second', registers }),
    backlog: new Gauge({ name: 'mediator_backlog', help: 'Stop and failure records not yet mediated, at the end of the last pass', registers }),
    purged: new Counter({ name: 'mediator_acc_purged_total', help: 'Mediated accounting records deleted for being older than acc_keep_days (their CDRs stay)', registers }),
    standby: new Gauge({ name: 'mediator_standby', help: '1 while MariaDB is read-only (the standby node of a pair): the mediator idles', registers }),
  };
}
