/**
 * After the API changed a voicemail message (moved, marked read, deleted) the subscriber's
 * message-waiting lamps must follow: the app-server is asked for an MWI NOTIFY with its control
 * method `appserver.mwi { subscriber_id }` (JSON-RPC on `voicemail.appserver_control`). The
 * change never waits for it nor fails with it: an app-server that is away or refuses is logged
 * and counted (`/api/metrics` `mwi`), and the phones learn the state with the next message.
 */
import type { FastifyBaseLogger } from 'fastify';
import { RpcClient } from '@ngcp/rpc';

export interface MwiCounts { requested: number; failed: number }

export class MwiTrigger {
  private readonly client: RpcClient | null;
  readonly counts: MwiCounts = { requested: 0, failed: 0 };

  constructor(url: string | null, timeoutMs: number, private readonly log: FastifyBaseLogger) {
    this.client = url ? new RpcClient(url, { timeoutMs }) : null;
  }

  /** Ask for the subscriber's MWI; resolves true when the app-server took the request (never rejects). */
  async request(subscriberId: number): Promise<boolean> {
    if (!this.client) return false;
    try {
      await this.client.call('appserver.mwi', { subscriber_id: subscriberId });
      this.counts.requested++;
      return true;
    } catch (err) {
      this.counts.failed++;
      this.log.warn({ subscriberId, err: (err as Error).message }, 'appserver.mwi failed; the voicemail change stands, the phones are not told');
      return false;
    }
  }

  close(): void {
    this.client?.close();
  }
}
