/** mediactl's Prometheus metrics, registered on the Registry the daemon passes in. */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export interface MediaMetrics {
  ngRoundtrip: Histogram<'command' | 'instance'>;
  ngErrors: Counter<'command' | 'instance' | 'code'>;
  ngRetransmissions: Counter<'command' | 'instance'>;
  rtpengineUp: Gauge<'instance'>;
  sessionsLive: Gauge;
  requests: Counter<'method' | 'outcome'>;
}

/** `sessionsLive` reads `liveSessions()` at scrape time. */
export function createMediaMetrics(registry: Registry, liveSessions: () => number): MediaMetrics {
  const registers = [registry];
  return {
    ngRoundtrip: new Histogram({
      name: 'ng_roundtrip_seconds',
      help: 'Round-trip time of ng requests to rtpengine (including pings), by command and instance',
      labelNames: ['command', 'instance'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    ngErrors: new Counter({
      name: 'ng_errors_total',
      help: 'Failed ng requests by command, instance and code (timeout, error-result, socket)',
      labelNames: ['command', 'instance', 'code'],
      registers,
    }),
    ngRetransmissions: new Counter({
      name: 'ng_retransmissions_total',
      help: 'ng requests sent again (same cookie) because rtpengine had not answered within ng_retransmit_ms (doubling), by command and instance',
      labelNames: ['command', 'instance'],
      registers,
    }),
    rtpengineUp: new Gauge({
      name: 'rtpengine_up',
      help: '1 when the rtpengine instance answers ng pings, 0 when it is down',
      labelNames: ['instance'],
      registers,
    }),
    sessionsLive: new Gauge({
      name: 'media_sessions_live',
      help: 'Media sessions this mediactl process created (media.offer of a new call) and has not yet deleted or expired (kept counter)',
      registers,
      collect() {
        this.set(liveSessions());
      },
    }),
    requests: new Counter({
      name: 'media_requests_total',
      help: 'Control requests by method (media.offer …) and outcome (ok or the error code)',
      labelNames: ['method', 'outcome'],
      registers,
    }),
  };
}
