/** The app-server's Prometheus metrics, registered on the Registry the daemon passes in. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AppserverMetrics {
  calls: Counter<'name' | 'result'>;
  rtpPackets: Counter;
}

/**
 * The `result` of a call: `completed` (played to the end, our BYE), `caller_hangup` (BYE
 * from the caller first), `cancelled`, `no_ack` (no ACK for our 200 in 64·T1: BYE),
 * `not_found` (404: no such sound; `name` is then `unknown`, so a scan cannot grow the
 * label set), `rejected` (400 without Contact, 420, 415, 488, or no usable answer in a late offer's ACK), `failed` (500: no RTP port), `shutdown` (the daemon stopped: BYE).
 */
export type CallResult = 'completed' | 'caller_hangup' | 'cancelled' | 'no_ack' | 'not_found' | 'rejected' | 'failed' | 'shutdown';

export function createAppserverMetrics(registry: Registry, activeCalls: () => number): AppserverMetrics {
  const registers = [registry];
  new Gauge({
    name: 'appserver_active_calls',
    help: 'Announcement calls answered and not yet ended',
    registers,
    collect() {
      this.set(activeCalls());
    },
  });
  return {
    calls: new Counter({ name: 'appserver_calls_total', help: 'Announcement calls by sound name and how they ended (completed, caller_hangup, cancelled, no_ack, not_found, rejected, failed, shutdown)', labelNames: ['name', 'result'], registers }),
    rtpPackets: new Counter({ name: 'appserver_rtp_packets_sent_total', help: 'RTP packets of announcements sent', registers }),
  };
}
