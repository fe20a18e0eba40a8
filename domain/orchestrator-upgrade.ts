import { z } from 'zod';

/**
 * The rolling upgrade's pre-check policies (seed 004's "Safe drain + rolling
 * upgrade"): inside the maintenance window, backups of the database and Redis
 * recent enough, and the order replicas are upgraded in. Pure: the workflow
 * decides with them and the unit tests pin them.
 */

/** An orchestrator release as the package step takes it. */
export const OrchestratorVersionSchema = z.string().regex(/^\d+\.\d+\.\d+$/, 'a release is MAJOR.MINOR.PATCH, e.g. 2.4.0');

/** INFO persistence, as the Redis backup check reads it. */
export interface RedisPersistence {
  loading: boolean;
  aof_enabled: boolean;
  aof_rewrite_in_progress: boolean;
  aof_last_write_status: string | null;
  aof_last_bgrewrite_status: string | null;
  rdb_last_bgsave_status: string | null;
  /** Unix seconds of the last successful RDB save (at start-up Redis counts its start as one). */
  rdb_last_save_time: number | null;
  rdb_changes_since_last_save: number | null;
}

const fmtAge = (ms: number) =>
  ms >= 3_600_000 ? `${(ms / 3_600_000).toFixed(1)}h` : ms >= 60_000 ? `${Math.round(ms / 60_000)}m` : `${Math.round(ms / 1000)}s`;

/** Why `now` is not a time to start (or go on with) the upgrade, or null. */
export function windowProblem(nowMs: number, start: string, end: string): string | null {
  const s = Date.parse(start);
  const e = Date.parse(end);
  if (!(e > s)) return `the maintenance window ends (${end}) before it starts (${start})`;
  if (nowMs < s) return `outside the maintenance window: it opens at ${start}, in ${fmtAge(s - nowMs)}`;
  if (nowMs >= e) return `outside the maintenance window: it closed at ${end}, ${fmtAge(nowMs - e)} ago`;
  return null;
}

/**
 * The SQL database's backup, as the operator reports it (`db_backup_at`: when the
 * last verified dump of orchestrator_jobs, orchestrator_leases and worker_pools
 * finished). Too old, or in the future (a wrong clock or a typo), is refused.
 */
export function dbBackupProblem(nowMs: number, backupAt: string, maxAgeMs: number): string | null {
  const t = Date.parse(backupAt);
  if (Number.isNaN(t)) return `db_backup_at is not a time: ${backupAt}`;
  if (t > nowMs + 60_000) return `the database backup is dated in the future (${backupAt}): check the time given`;
  if (nowMs - t > maxAgeMs) return `the database backup is stale: taken ${fmtAge(nowMs - t)} ago (${backupAt}), the limit is ${fmtAge(maxAgeMs)}`;
  return null;
}

/**
 * Redis's own durable copy of the streams. With AOF on, every write is in the
 * append-only file: it must be writing (last write and last rewrite ok). Without
 * it, the last RDB snapshot is the backup: it must have succeeded and be younger
 * than the limit. A server still loading its data is not ready either.
 */
export function redisBackupProblem(p: RedisPersistence, serverTimeS: number, maxAgeMs: number): string | null {
  if (p.loading) return 'Redis is still loading its data set';
  if (p.aof_enabled) {
    if (p.aof_last_write_status !== 'ok') return `Redis AOF is on but its last write failed (aof_last_write_status:${p.aof_last_write_status})`;
    if (p.aof_last_bgrewrite_status !== 'ok') return `Redis AOF is on but its last rewrite failed (aof_last_bgrewrite_status:${p.aof_last_bgrewrite_status})`;
    return null;
  }
  if (p.rdb_last_bgsave_status !== 'ok') return `Redis has no AOF and its last RDB save failed (rdb_last_bgsave_status:${p.rdb_last_bgsave_status})`;
  if (p.rdb_last_save_time === null) return 'Redis has no AOF and reports no RDB save time';
  const age = (serverTimeS - p.rdb_last_save_time) * 1000;
  if (age > maxAgeMs) return `Redis has no AOF and its last RDB snapshot is stale: ${fmtAge(age)} old, the limit is ${fmtAge(maxAgeMs)} (run BGSAVE first)`;
  return null;
}

/** Followers first, the leader last: the leader is restarted once, and only when the others already run the new version. */
export function upgradeOrder(replicas: readonly string[], leader: string | null): string[] {
  return [...replicas.filter((r) => r !== leader), ...replicas.filter((r) => r === leader)];
}

/** Stream ids ("ms-seq") compared as Redis does. */
export function compareStreamIds(a: string, b: string): number {
  const [am = 0, as = 0] = a.split('-').map(Number);
  const [bm = 0, bs = 0] = b.split('-').map(Number);
  return am !== bm ? Math.sign(am - bm) : Math.sign(as - bs);
}
