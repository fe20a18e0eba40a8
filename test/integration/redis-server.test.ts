/**
 * The orchestrator's Redis, as the stack resolves it in globalSetup (REDIS_URL, else a
 * redis-server started from PATH): the stream commands its job queues and DLQ rely on, a
 * started server keeping a stream across a restart through its AOF, and the errors when
 * there is no Redis to be had. Real servers only.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Redis from 'ioredis';
import { findFreePort } from '../../infra/free-port';
import { resolveRedis, type ResolvedRedis } from '../../infra/redis-server';
import { testEnv } from '../support/test-env';

type Entry = [id: string, fields: string[]];

describe('the Redis the stack resolved', () => {
  // Unique per run: REDIS_URL may point at a server other runs share.
  const stream = `orch:jobs:test-${process.pid}-${Date.now()}`;
  let redis: Redis;

  beforeAll(() => {
    redis = new Redis(testEnv('redisUrl'));
  });
  afterAll(async () => {
    await redis.del(stream);
    redis.disconnect();
  });

  test('a consumer group reads and acknowledges jobs, and another consumer claims the one left pending', async () => {
    const first = await redis.xadd(stream, '*', 'job', 'reconcile', 'node', 'dev-gpu-1');
    const second = await redis.xadd(stream, '*', 'job', 'drain', 'node', 'dev-gpu-2');
    expect(await redis.xgroup('CREATE', stream, 'workers', '0')).toBe('OK');

    const read = (await redis.xreadgroup('GROUP', 'workers', 'worker-a', 'COUNT', 10, 'STREAMS', stream, '>')) as [string, Entry[]][];
    expect(read).toEqual([
      [
        stream,
        [
          [first, ['job', 'reconcile', 'node', 'dev-gpu-1']],
          [second, ['job', 'drain', 'node', 'dev-gpu-2']],
        ],
      ],
    ]);
    expect(await redis.xack(stream, 'workers', first!)).toBe(1);

    // worker-a stopped while holding the second job; with min-idle-time 0 worker-b takes it over at once.
    const [cursor, claimed] = (await redis.xautoclaim(stream, 'workers', 'worker-b', 0, '0-0')) as [string, Entry[]];
    expect(claimed).toEqual([[second, ['job', 'drain', 'node', 'dev-gpu-2']]]);
    expect(cursor).toBe('0-0'); // nothing more to scan

    const pending = (await redis.xpending(stream, 'workers', '-', '+', 10)) as [string, string, number, number][];
    expect(pending.map(([id, consumer, , deliveries]) => ({ id, consumer, deliveries }))).toEqual([{ id: second, consumer: 'worker-b', deliveries: 2 }]);
  });
});

describe('a redis-server the project starts', () => {
  let dir: string;
  const servers: ResolvedRedis[] = [];

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-redis-'));
  });
  afterAll(async () => {
    for (const server of servers) await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('keeps a stream and its consumer group across a restart: AOF on, no RDB snapshot', async () => {
    const first = await resolveRedis({ dataDir: dir });
    servers.push(first);
    expect(first.source).toBe('started');
    const before = new Redis(first.url);
    let id: string | null;
    try {
      expect(await before.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await before.config('GET', 'save')).toEqual(['save', '']);
      id = await before.xadd('orch:dlq', '*', 'job', 'j-1', 'error', 'ssh timeout');
      await before.xgroup('CREATE', 'orch:dlq', 'replayers', '0');
    } finally {
      before.disconnect();
    }
    await first.stop();

    const second = await resolveRedis({ dataDir: dir });
    servers.push(second);
    const after = new Redis(second.url);
    try {
      expect(await after.xrange('orch:dlq', '-', '+')).toEqual([[id, ['job', 'j-1', 'error', 'ssh timeout']]]);
      const groups = (await after.xinfo('GROUPS', 'orch:dlq')) as unknown[][];
      expect(groups.map((g) => g[g.indexOf('name') + 1])).toEqual(['replayers']);
    } finally {
      after.disconnect();
    }
    expect(fs.existsSync(path.join(dir, 'redis', 'dump.rdb'))).toBe(false);
    expect(fs.readdirSync(path.join(dir, 'redis', 'appendonlydir'))).toContain('appendonly.aof.manifest');

    // The same data directory is not started twice.
    await expect(resolveRedis({ dataDir: dir })).rejects.toThrow(/already runs on/);
  });

  test('with no redis-server on PATH and no REDIS_URL, the error says how to install one', async () => {
    const failure = resolveRedis({ dataDir: dir, env: { PATH: '' } });
    await expect(failure).rejects.toThrow(/apt-get install redis-server/);
    await expect(failure).rejects.toThrow(/REDIS_URL/);
  });

  test('a REDIS_URL that does not answer is an error, not a reason to start one', async () => {
    const nobody = await findFreePort();
    await expect(resolveRedis({ dataDir: dir, redisUrl: `redis://127.0.0.1:${nobody}` })).rejects.toThrow(
      new RegExp(`REDIS_URL=redis://127\\.0\\.0\\.1:${nobody} does not answer PING: .*ECONNREFUSED`),
    );
  });
});
