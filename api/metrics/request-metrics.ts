import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

/** Requests that matched no route share one label value, so random URLs cannot grow the series count. */
export const UNMATCHED_ROUTE = 'unmatched';

/** Around the API's own limits: 1.5 s is the default Temporal budget of one request. */
const REQUEST_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.5, 2.5, 5, 10];

/**
 * The API's metrics registry, one per built API (not prom-client's global one, so a
 * process that builds several APIs, as the tests do, keeps their metrics apart), with
 * Node's process metrics and every request's latency by method, route pattern and status.
 */
export function installRequestMetrics(app: FastifyInstance): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const duration = new Histogram({
    name: 'gpuaas_api_request_duration_seconds',
    help: 'Time from receiving a request to sending its answer, by method, route pattern and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: REQUEST_BUCKETS,
    registers: [registry],
  });
  app.addHook('onResponse', (req, reply, done) => {
    duration.observe({ method: req.method, route: req.routeOptions.url ?? UNMATCHED_ROUTE, status_code: String(reply.statusCode) }, reply.elapsedTime / 1000);
    done();
  });
  return registry;
}
