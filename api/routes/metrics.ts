import type { FastifyInstance } from 'fastify';
import type { Registry } from 'prom-client';
import { MetricsScrape } from '../metrics/scrape';
import type { ApiDeps } from '../server';
import type { PendingCalls } from '../temporal-call';

/**
 * GET /metrics in Prometheus' text format: the API's own requests and process, and the
 * engine's runs, steps, approvals and disruption budgets (docs/metrics.md). A viewer's
 * token reads it; Prometheus sends one with `authorization: { credentials_file: ... }`.
 */
export function registerMetricsRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls, registry: Registry): void {
  const scrape = new MetricsScrape(registry, deps, pending, app.log);
  app.get(
    '/metrics',
    {
      config: {
        role: 'viewer',
        api: {
          summary: 'Metrics in Prometheus text format',
          tag: 'service',
          responses: { 200: { description: 'docs/metrics.md lists them', mediaType: 'text/plain' } },
        },
      },
    },
    async (_req, reply) => {
      await scrape.collect();
      return reply.header('content-type', registry.contentType).send(await registry.metrics());
    },
  );
}
