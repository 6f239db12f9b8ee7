/** GET /api/metrics (admin): the counters of this process, as JSON. */
import type { FastifyInstance } from 'fastify';
import { apiError } from '../errors.js';
import type { Services } from '../services.js';

export function registerMetrics(app: FastifyInstance, s: Services): void {
  app.get('/api/metrics', {
    schema: { tags: ['metrics'], summary: 'Counters of this API process (admin)', response: { 200: { type: 'object', additionalProperties: true }, 403: { $ref: 'ApiError#' } } },
    handler: async (req) => {
      if (req.principal?.role !== 'admin') throw apiError('NGCP_API_FORBIDDEN');
      const pool = (s.db.client as { pool?: { numUsed(): number; numFree(): number; numPendingAcquires(): number } }).pool;
      return {
        uptime_s: Math.round((Date.now() - s.metrics.started) / 1000),
        requests: s.metrics.requests,
        writes: s.metrics.writes,
        auth: s.auth.stats,
        bruteforce: s.guard.stats,
        notifications: s.notifier.stats,
        mwi: s.mwi.counts,
        db_pool: pool ? { used: pool.numUsed(), free: pool.numFree(), pending: pool.numPendingAcquires() } : null,
        db_readers: s.reader.stats(),
        redis: s.redis.status,
      };
    },
  });
}
