/**
 * The rolling upgrade's pre-check policies (window, database and Redis backups,
 * replica order, stream id order) and the parsers its activities read real
 * output with (`INFO persistence`, `gpu-orchestrator --version`).
 */
import { parseOrchestratorVersion } from '../../capabilities/orchestrator/commands';
import { parseRedisInfo, redisPersistence } from '../../capabilities/orchestrator/parse-redis-info';
import {
  compareStreamIds,
  dbBackupProblem,
  OrchestratorVersionSchema,
  redisBackupProblem,
  upgradeOrder,
  windowProblem,
  type RedisPersistence,
} from '../../domain/orchestrator-upgrade';

const H = 3_600_000;
const NOW = Date.parse('2026-12-03T17:00:00Z');

test('the maintenance window: inside, not yet open, closed, or backwards', () => {
  expect(windowProblem(NOW, '2026-12-03T16:00:00Z', '2026-12-03T18:00:00Z')).toBeNull();
  expect(windowProblem(NOW, '2026-12-03T17:00:00Z', '2026-12-03T18:00:00Z')).toBeNull();
  expect(windowProblem(NOW, '2026-12-03T18:00:00Z', '2026-12-03T19:00:00Z')).toBe('outside the maintenance window: it opens at 2026-12-03T18:00:00Z, in 1.0h');
  expect(windowProblem(NOW, '2026-12-03T15:00:00Z', '2026-12-03T17:00:00Z')).toBe('outside the maintenance window: it closed at 2026-12-03T17:00:00Z, 0s ago');
  expect(windowProblem(NOW, '2026-12-03T18:00:00+01:00', '2026-12-03T16:30:00Z')).toMatch(/ends .* before it starts/);
});

test('the database backup marker: recent, stale, or in the future', () => {
  expect(dbBackupProblem(NOW, '2026-12-03T12:00:00Z', 24 * H)).toBeNull();
  expect(dbBackupProblem(NOW, '2026-11-30T17:00:00Z', 24 * H)).toBe('the database backup is stale: taken 72.0h ago (2026-11-30T17:00:00Z), the limit is 24.0h');
  expect(dbBackupProblem(NOW, '2026-12-03T19:00:00Z', 24 * H)).toMatch(/dated in the future/);
});

const info = (over: Partial<RedisPersistence> = {}): RedisPersistence => ({
  loading: false,
  aof_enabled: false,
  aof_rewrite_in_progress: false,
  aof_last_write_status: 'ok',
  aof_last_bgrewrite_status: 'ok',
  rdb_last_bgsave_status: 'ok',
  rdb_last_save_time: NOW / 1000 - 600,
  rdb_changes_since_last_save: 12,
  ...over,
});

test('Redis: AOF writing is its backup; without AOF the last RDB snapshot must be ok and recent', () => {
  const t = NOW / 1000;
  expect(redisBackupProblem(info({ aof_enabled: true, rdb_last_save_time: 0 }), t, H)).toBeNull();
  expect(redisBackupProblem(info({ aof_enabled: true, aof_last_write_status: 'err' }), t, H)).toMatch(/last write failed/);
  expect(redisBackupProblem(info({ aof_enabled: true, aof_last_bgrewrite_status: 'err' }), t, H)).toMatch(/last rewrite failed/);
  expect(redisBackupProblem(info(), t, H)).toBeNull();
  expect(redisBackupProblem(info({ rdb_last_save_time: t - 2 * 3600 }), t, H)).toBe(
    'Redis has no AOF and its last RDB snapshot is stale: 2.0h old, the limit is 1.0h (run BGSAVE first)',
  );
  expect(redisBackupProblem(info({ rdb_last_bgsave_status: 'err' }), t, H)).toMatch(/last RDB save failed/);
  expect(redisBackupProblem(info({ loading: true }), t, H)).toMatch(/still loading/);
});

test('INFO persistence as Redis 7 prints it', () => {
  const text = [
    '# Persistence',
    'loading:0',
    'async_loading:0',
    'rdb_changes_since_last_save:0',
    'rdb_bgsave_in_progress:0',
    'rdb_last_save_time:1796316000',
    'rdb_last_bgsave_status:ok',
    'aof_enabled:1',
    'aof_rewrite_in_progress:0',
    'aof_last_bgrewrite_status:ok',
    'aof_last_write_status:ok',
    '',
  ].join('\r\n');
  expect(redisPersistence(parseRedisInfo(text))).toEqual({
    loading: false,
    aof_enabled: true,
    aof_rewrite_in_progress: false,
    aof_last_write_status: 'ok',
    aof_last_bgrewrite_status: 'ok',
    rdb_last_bgsave_status: 'ok',
    rdb_last_save_time: 1796316000,
    rdb_changes_since_last_save: 0,
  });
});

test('followers first, the leader last; stream ids in Redis order', () => {
  expect(upgradeOrder(['dev-control-1', 'dev-lab-1'], 'dev-control-1')).toEqual(['dev-lab-1', 'dev-control-1']);
  expect(upgradeOrder(['a', 'b', 'c'], null)).toEqual(['a', 'b', 'c']);
  expect(compareStreamIds('1700000000000-2', '1700000000000-10')).toBe(-1);
  expect(compareStreamIds('1700000000001-0', '1700000000000-10')).toBe(1);
  expect(compareStreamIds('0-0', '0-0')).toBe(0);
});

test('versions: what the package step takes and what --version prints', () => {
  expect(OrchestratorVersionSchema.safeParse('2.4.0').success).toBe(true);
  expect(OrchestratorVersionSchema.safeParse('2.4.0; rm -rf /').success).toBe(false);
  expect(parseOrchestratorVersion('gpu-orchestrator 2.3.1\n')).toBe('2.3.1');
  expect(parseOrchestratorVersion('bash: gpu-orchestrator: command not found\n')).toBeNull();
});
