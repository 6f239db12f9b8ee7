/** Counters served at GET /api/metrics (admin): requests by status class, auth, bans, notifications. */
export class Metrics {
  readonly started = Date.now();
  readonly requests = { total: 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0 };
  readonly writes = { create: 0, update: 0, delete: 0 };

  countResponse(status: number): void {
    this.requests.total++;
    const cls = `${Math.floor(status / 100)}xx` as '2xx';
    if (cls in this.requests) this.requests[cls]++;
  }
}
