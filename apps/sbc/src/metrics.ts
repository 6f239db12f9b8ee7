/** The sbc's Prometheus metrics, registered on the Registry the daemon passes in. */
import { Counter, Gauge, type Registry } from 'prom-client';

export interface SbcMetrics {
  requests: Counter<'method'>;
  responses: Counter<'method' | 'status'>;
  teardowns: Counter<'reason'>;
  /** the sbc's own session refreshes (RFC 4028) by outcome: ok (2xx), rejected (another final; tried again), failed (timeout, 408, 481: the call ends) */
  refreshes: Counter<'result'>;
  /** prepaid calls by outcome: allowed (a first quota reserved), no_credit / no_fee (402), cut (credit exhausted mid-call) */
  prepaidCalls: Counter<'result'>;
  /** units charged to prepaid balances */
  prepaidCharged: Counter;
  /** stale prepaid reservations closed by the sweep, by kind: unanswered (released), answered (charged what is proven, released) */
  prepaidSwept: Counter<'kind'>;
  /** ringing calls another sbc process sent on, carried on here (b2bua.ts "takeover"), by event; state-unsaved: a ringing call whose state Redis refused */
  takeover: Counter<'event'>;
}

export interface SbcGauges {
  /** answered calls (Redis) */
  callsLive(): Promise<number>;
  /** calls being set up in this process */
  earlyCalls(): number;
  /** prepaid settlements waiting for their retry (MariaDB was away) */
  prepaidPending?(): number;
}

export function createSbcMetrics(registry: Registry, gauges: SbcGauges): SbcMetrics {
  const registers = [registry];
  new Gauge({
    name: 'sbc_calls_live',
    help: 'Calls the sbc holds: answered calls (in Redis, this node) and calls being set up (this process)',
    labelNames: ['state'],
    registers,
    async collect() {
      this.set({ state: 'answered' }, await gauges.callsLive().catch(() => 0));
      this.set({ state: 'early' }, gauges.earlyCalls());
    },
  });
  new Gauge({
    name: 'sbc_legs_live',
    help: 'Legs of the calls the sbc holds (two per call)',
    registers,
    async collect() {
      this.set(2 * ((await gauges.callsLive().catch(() => 0)) + gauges.earlyCalls()));
    },
  });
  new Gauge({
    name: 'sbc_prepaid_settlements_pending',
    help: 'Prepaid settlements that failed (MariaDB unreachable) and wait for their retry in this process',
    registers,
    collect() {
      this.set(gauges.prepaidPending?.() ?? 0);
    },
  });
  return {
    requests: new Counter({ name: 'sbc_requests_total', help: 'SIP requests received (ACK and CANCEL excluded), by method', labelNames: ['method'], registers }),
    responses: new Counter({ name: 'sbc_responses_total', help: 'Final responses the sbc sent, by method of the request and status', labelNames: ['method', 'status'], registers }),
    teardowns: new Counter({ name: 'sbc_teardowns_total', help: 'Calls the sbc ended itself with BYE on both legs, by why (call length limit, session timer expired, control request)', labelNames: ['reason'], registers }),
    prepaidCalls: new Counter({ name: 'sbc_prepaid_calls_total', help: 'Prepaid calls by result: allowed (first quota reserved), no_credit and no_fee (answered 402), cut (BYE on both legs when the credit ran out)', labelNames: ['result'], registers }),
    prepaidSwept: new Counter({ name: 'sbc_prepaid_reservations_swept_total', help: 'Stale prepaid reservations (call gone: sbc died while it rang, Redis state lost) closed by the sweep, by kind: unanswered (released), answered (charged what is proven, released)', labelNames: ['kind'], registers }),
    prepaidCharged: new Counter({ name: 'sbc_prepaid_charged_total', help: 'Amount charged to prepaid balances, in units (1/10000 of the currency)', registers }),
    takeover: new Counter({
      name: 'sbc_takeover_total',
      help: 'Ringing calls another sbc process sent on (it died), carried on here, by event: answered (connected by B\'s 2xx), failed (B\'s failure relayed to A), provisional (relayed to A), cancel (the caller\'s CANCEL sent on); state-unsaved: a ringing call whose state Redis refused (it cannot be taken over)',
      labelNames: ['event'],
      registers,
    }),
    refreshes: new Counter({ name: 'sbc_session_refresh_total', help: 'Session refreshes (RFC 4028) the sbc sent, by result: ok (2xx), rejected (another final response; retried), failed (timeout, 408, 481: the call is ended)', labelNames: ['result'], registers }),
  };
}
