import type { FastifyInstance } from 'fastify';
import type { RouteApi } from '../openapi/route-api';
import type { ApiDeps } from '../server';
import { DEFAULT_TEMPORAL_TIMEOUT_MS, TemporalBudget, type PendingCalls } from '../temporal-call';

/** The route's entry in /openapi.json. */
const API: RouteApi = {
  summary: 'Whether Temporal and PostgreSQL answer',
  tag: 'service',
  responses: {
    200: { description: '`status` ok, and `temporal` and `database` each "ok"' },
    503: { description: '`status` degraded: `temporal` or `database` says "error: <why>"' },
  },
};

/** GET /healthz: 200 when Temporal and the database both answer, 503 naming the part that does not. */
export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const timeoutMs = deps.temporalTimeoutMs ?? DEFAULT_TEMPORAL_TIMEOUT_MS;
  app.get('/healthz', { config: { public: true, api: API } }, async (_req, reply) => {
    const temporalBudget = new TemporalBudget(deps.client, timeoutMs, pending);
    const [temporal, database] = await Promise.all([
      check(() => temporalBudget.call('getSystemInfo', () => deps.client.workflowService.getSystemInfo({})), timeoutMs),
      check(() => deps.pool.query('SELECT 1'), timeoutMs),
    ]);
    const healthy = temporal === 'ok' && database === 'ok';
    return reply.status(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', temporal, database });
  });
}

/** 'ok', or 'error: <why>' when the probe fails or gives no answer within `timeoutMs`. */
async function check(probe: () => Promise<unknown>, timeoutMs: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  const work = probe();
  work.catch(() => undefined);
  try {
    await Promise.race([work, new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs)))]);
    return 'ok';
  } catch (e) {
    return `error: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    clearTimeout(timer);
  }
}
