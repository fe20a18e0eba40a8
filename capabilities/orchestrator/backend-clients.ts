/**
 * Short-lived connections to an orchestrator cluster's own backends, for reads
 * the HTTP API does not offer (stream and consumer-group state, Redis
 * persistence, the jobs table). Each call opens, uses and closes its
 * connection, named so the orchestrator's Redis record tells the runbooks'
 * commands from its own. Nothing here writes.
 */
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import pg from 'pg';

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

/** One read-only query on a mysql:// or postgres:// URL; `?` placeholders on both. */
export async function querySql(url: string, text: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
  if (url.startsWith('mysql://')) {
    const c = await mysql.createConnection({ uri: url, connectTimeout: 5_000 });
    try {
      return (await c.query(text, params))[0] as Record<string, unknown>[];
    } finally {
      await c.end();
    }
  }
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  await c.connect();
  try {
    let i = 0;
    return (
      await c.query(
        text.replace(/\?/g, () => `$${++i}`),
        params,
      )
    ).rows as Record<string, unknown>[];
  } finally {
    await c.end();
  }
}
