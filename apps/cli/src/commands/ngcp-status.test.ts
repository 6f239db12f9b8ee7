import { describe, expect, it } from 'vitest';
import { formatRows, liveCounters, type StatusRow } from './ngcp-status.js';

describe('ngcp-status live counters', () => {
  it('sums the known gauges over their label sets and ignores everything else', () => {
    const text = [
      '# HELP sip_transactions_live live transactions',
      '# TYPE sip_transactions_live gauge',
      'sip_transactions_live{daemon="proxy"} 3',
      'registrations_active{daemon="proxy"} 2',
      'calls_live 1',
      'lb_dispatch_destination_up{daemon="lb",destination="127.0.0.2:5062"} 1',
      'lb_dispatch_destination_up{daemon="lb",destination="127.0.0.3:5062"} 0',
      'sip_requests_total{daemon="proxy",method="INVITE"} 40',
      'process_cpu_seconds_total 1.5',
      'calls_live NaN-garbage',
      'appserver_active_calls{daemon="appserver"} 2',
    ].join('\n');
    expect(liveCounters(text)).toEqual({ transactions: 3, registrations: 2, calls: 1, proxies_up: 1, announcements: 2 });
    expect(liveCounters('')).toEqual({});
  });

  it('prints them in a Live column, empty for processes without a control endpoint', () => {
    const row = (name: string, live: StatusRow['live']): StatusRow => ({ name, status: 'online', pid: 1, uptimeS: 5, restarts: 0, memoryBytes: 1048576, health: 'ok', live });
    const lines = formatRows([row('redis', null), row('proxy', { registrations: 2, calls: 1 })]);
    expect(lines[0]).toMatch(/Health\s+Live$/);
    expect(lines[2]).toMatch(/ok\s+registrations=2 calls=1$/);
    expect(lines[1]).toMatch(/ok$/); // no trailing blanks where a process has no counters
  });
});
