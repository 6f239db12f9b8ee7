/** A daemon's Prometheus registry: default process metrics, plain names, every series labelled `{daemon: name}`. */
import { collectDefaultMetrics, Registry } from 'prom-client';

export function createDaemonRegistry(name: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ daemon: name });
  collectDefaultMetrics({ register: registry });
  return registry;
}
