/**
 * A short-lived connection to an orchestrator cluster's Redis, for reads the HTTP
 * API does not offer (stream and consumer-group state, persistence). Each call
 * opens, uses and closes its connection, named so the orchestrator's Redis record
 * tells the runbooks' commands from its own. Nothing here writes. (Its SQL
 * database: orchestrator-db.ts.)
 */
import { Redis } from 'ioredis';

export const RUNBOOK_REDIS_CLIENT = 'gpuaas-runbooks';

export async function withRedis<T>(url: string, fn: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(url, {
    connectionName: RUNBOOK_REDIS_CLIENT,
    lazyConnect: true,
    maxRetriesPerRequest: 1,
    connectTimeout: 5_000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await fn(redis);
  } finally {
    redis.disconnect();
  }
}
