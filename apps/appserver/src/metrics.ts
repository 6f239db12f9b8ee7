/** The app-server's Prometheus metrics, registered on the Registry the daemon passes in. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface AppserverMetrics {
  calls: Counter<'name' | 'result'>;
  rtpPackets: Counter;
  voicemailMessages: Counter<'result'>;
  mwi: Counter<'result'>;
}

/**
 * The `result` of a call: `completed` (played to the end, our BYE), `caller_hangup` (BYE
 * from the caller first), `cancelled`, `no_ack` (no ACK for our 200 in 64·T1: BYE),
 * `not_found` (404: no such sound or voicemail box; `name` is then `unknown`, so a scan cannot grow the
 * label set), `rejected` (400 without Contact, 420, 415, 488, or no usable answer in a late offer's ACK), `failed` (500: no RTP port), `shutdown` (the daemon stopped: BYE).
 */
export type CallResult = 'completed' | 'caller_hangup' | 'cancelled' | 'no_ack' | 'not_found' | 'rejected' | 'failed' | 'shutdown';

/**
 * What became of a deposit's recording: `saved` (file + row), `too_short` (under
 * `min_message_ms`, discarded), `db_error` (MariaDB did not take the row: the file is kept
 * under `<dir>/unsaved/`), `write_error` (the file could not be written).
 */
export type VoicemailResult = 'saved' | 'too_short' | 'db_error' | 'write_error';

export function createAppserverMetrics(registry: Registry, activeCalls: () => number): AppserverMetrics {
  const registers = [registry];
  new Gauge({
    name: 'appserver_active_calls',
    help: 'Calls (announcements, voicemail) answered and not yet ended',
    registers,
    collect() {
      this.set(activeCalls());
    },
  });
  return {
    calls: new Counter({ name: 'appserver_calls_total', help: 'Calls by name (sound, vm-deposit, vm-retrieve) and how they ended (completed, caller_hangup, cancelled, no_ack, not_found, rejected, failed, shutdown)', labelNames: ['name', 'result'], registers }),
    rtpPackets: new Counter({ name: 'appserver_rtp_packets_sent_total', help: 'RTP packets sent (announcements and voicemail prompts)', registers }),
    voicemailMessages: new Counter({ name: 'appserver_voicemail_messages_total', help: 'Voicemail recordings by what became of them (saved, too_short, db_error, write_error)', labelNames: ['result'], registers }),
    mwi: new Counter({ name: 'appserver_mwi_notify_total', help: 'MWI NOTIFYs by outcome: ok (2xx), rejected, timeout, error, no_subscriber, no_proxy', labelNames: ['result'], registers }),
  };
}
