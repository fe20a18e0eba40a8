import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from '../server';

const CHECK_TIMEOUT_MS = 3_000;

/** GET /healthz: 200 when Temporal and the database both answer, 503 naming the part that does not. */
export function registerHealthRoutes(app: FastifyInstance, deps: ApiDeps): void {
  app.get('/healthz', async (_req, reply) => {
    const [temporal, database] = await Promise.all([
      check(() => deps.client.workflowService.getSystemInfo({})),
      check(() => deps.pool.query('SELECT 1')),
    ]);
    const healthy = temporal === 'ok' && database === 'ok';
    return reply.status(healthy ? 200 : 503).send({ status: healthy ? 'ok' : 'degraded', temporal, database });
  });
}

async function check(probe: () => Promise<unknown>): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      probe(),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(`no answer in ${CHECK_TIMEOUT_MS} ms`)), CHECK_TIMEOUT_MS))),
    ]);
    return 'ok';
  } catch (e) {
    return `error: ${(e as Error).message.split('\n')[0]}`;
  } finally {
    clearTimeout(timer);
  }
}
