/**
 * What the orchestrator keeps in SQL, as statements: pools, jobs, leases,
 * replicas' heartbeats and the maintenance flag. A job is `done` at most once:
 * completion is an UPDATE that counts (completions), so a duplicate delivery
 * that slipped past the check would show as completions = 2, not vanish.
 * Attempts are fenced: a job is claimed for an attempt by one conditional
 * statement, and only that attempt may settle it.
 */
import { isDuplicateKey, upsertSql, type Sql } from './sql';

export type PoolStatus = 'running' | 'stopping' | 'stopped';
export type JobStatus = 'running' | 'retrying' | 'done' | 'dead_letter';
export type MaintenanceMode = 'normal' | 'drain';

export interface PoolRow {
  pool_id: string;
  node_id: string;
  model: string;
  workers: number;
  status: PoolStatus;
  memory_mib: number;
}

export interface JobRow {
  job_id: string;
  stream_id: string;
  model: string;
  status: JobStatus;
  attempts: number;
  completions: number;
  pool_id: string | null;
  worker_pid: number | null;
  lease_expires_at: Date | null;
  cause: string | null;
  error: string | null;
}

export interface LeaseRow {
  lease_id: string;
  job_id: string;
  pool_id: string;
  node_id: string;
  worker_pid: number;
  replica_id: string;
  acquired_at: Date;
  expires_at: Date;
}

export interface ReplicaRow {
  replica_id: string;
  node_id: string;
  pid: number;
  version: string;
  is_leader: number;
  lock_session_id: number | null;
  started_at: Date;
  heartbeat_at: Date;
}

const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
/** A job as the driver returns it, with its counts as numbers (MySQL may give strings). */
const jobRow = (r: Record<string, unknown>): JobRow => ({
  ...(r as unknown as JobRow),
  attempts: Number(r.attempts),
  completions: Number(r.completions),
  worker_pid: num(r.worker_pid),
});

export class OrchestratorStore {
  constructor(readonly sql: Sql) {}

  /** Inserts `row` (its own fields are the columns) or updates the one with its key, leaving `keep` as they were. */
  private async upsert(table: string, key: string, row: object, keep: readonly string[] = []): Promise<void> {
    const entries = Object.entries(row);
    await this.sql.exec(
      upsertSql(
        this.sql.kind,
        table,
        key,
        entries.map(([c]) => c),
        keep,
      ),
      entries.map(([, v]) => v),
    );
  }

  // -- worker_pools

  async savePool(p: PoolRow, now = new Date()): Promise<void> {
    // A pool saved again keeps the time it was first created.
    await this.upsert('worker_pools', 'pool_id', { ...p, created_at: now, updated_at: now }, ['created_at']);
  }

  async setPoolStatus(poolId: string, status: PoolStatus, now = new Date()): Promise<void> {
    await this.sql.exec('UPDATE worker_pools SET status = ?, updated_at = ? WHERE pool_id = ?', [status, now, poolId]);
  }

  async pools(): Promise<PoolRow[]> {
    const rows = await this.sql.query('SELECT pool_id, node_id, model, workers, status, memory_mib FROM worker_pools ORDER BY pool_id');
    return rows.map((r) => ({ ...(r as unknown as PoolRow), workers: Number(r.workers), memory_mib: Number(r.memory_mib) }));
  }

  // -- orchestrator_jobs

  async job(jobId: string): Promise<JobRow | undefined> {
    const rows = await this.sql.query('SELECT * FROM orchestrator_jobs WHERE job_id = ?', [jobId]);
    return rows[0] && jobRow(rows[0]);
  }

  /**
   * Takes the job for its next attempt, as one conditional statement: only a
   * job not yet seen, retrying or dead-lettered, or running on a lease that ran
   * out, and only if nobody took it since `seenAttempts` was read. A second
   * delivery of a job in hand (a reclaim while its worker settles, two leaders
   * across an election round) matches no row. Returns the attempt, or null.
   */
  async claim(
    j: { job_id: string; stream_id: string; model: string; pool_id: string; worker_pid: number; lease_expires_at: Date },
    seenAttempts: number | null,
    now = new Date(),
  ): Promise<number | null> {
    if (seenAttempts === null) {
      try {
        await this.sql.exec(
          "INSERT INTO orchestrator_jobs (job_id, stream_id, model, status, attempts, completions, pool_id, worker_pid, lease_expires_at, created_at, updated_at) VALUES (?, ?, ?, 'running', 1, 0, ?, ?, ?, ?, ?)",
          [j.job_id, j.stream_id, j.model, j.pool_id, j.worker_pid, j.lease_expires_at, now, now],
        );
        return 1;
      } catch (err) {
        if (isDuplicateKey(err)) return null;
        throw err;
      }
    }
    const changed = await this.sql.exec(
      "UPDATE orchestrator_jobs SET status = 'running', stream_id = ?, attempts = attempts + 1, pool_id = ?, worker_pid = ?, lease_expires_at = ?, updated_at = ? WHERE job_id = ? AND attempts = ? AND (status IN ('retrying', 'dead_letter') OR (status = 'running' AND lease_expires_at < ?))",
      [j.stream_id, j.pool_id, j.worker_pid, j.lease_expires_at, now, j.job_id, seenAttempts, now],
    );
    return changed > 0 ? seenAttempts + 1 : null;
  }

  /** The attempt's worker finished it; false when the attempt no longer holds the job (it was taken over), so nothing is counted. */
  async complete(jobId: string, attempt: number, now = new Date()): Promise<boolean> {
    const changed = await this.sql.exec(
      "UPDATE orchestrator_jobs SET status = 'done', completions = completions + 1, lease_expires_at = NULL, cause = NULL, error = NULL, updated_at = ? WHERE job_id = ? AND status = 'running' AND attempts = ?",
      [now, jobId, attempt],
    );
    return changed > 0;
  }

  /** The attempt failed; false when it no longer holds the job. */
  async fail(jobId: string, attempt: number, status: 'retrying' | 'dead_letter', cause: string, error: string, now = new Date()): Promise<boolean> {
    const changed = await this.sql.exec(
      "UPDATE orchestrator_jobs SET status = ?, lease_expires_at = NULL, cause = ?, error = ?, updated_at = ? WHERE job_id = ? AND status = 'running' AND attempts = ?",
      [status, cause, error, now, jobId, attempt],
    );
    return changed > 0;
  }

  /** The worker an attempt ran on is gone: the job is retrying, unless it has moved on to another worker since. */
  async workerLost(jobId: string, poolId: string, workerPid: number, error: string, now = new Date()): Promise<boolean> {
    const changed = await this.sql.exec(
      "UPDATE orchestrator_jobs SET status = 'retrying', lease_expires_at = NULL, cause = 'worker_lost', error = ?, updated_at = ? WHERE job_id = ? AND status = 'running' AND pool_id = ? AND worker_pid = ?",
      [error, now, jobId, poolId, workerPid],
    );
    return changed > 0;
  }

  async jobs(): Promise<JobRow[]> {
    return (await this.sql.query('SELECT * FROM orchestrator_jobs ORDER BY job_id')).map(jobRow);
  }

  // -- orchestrator_leases

  async addLease(l: LeaseRow): Promise<void> {
    await this.upsert('orchestrator_leases', 'lease_id', l);
  }

  async releaseLease(leaseId: string): Promise<number> {
    return this.sql.exec('DELETE FROM orchestrator_leases WHERE lease_id = ?', [leaseId]);
  }

  async leases(poolId?: string): Promise<LeaseRow[]> {
    const rows = poolId
      ? await this.sql.query('SELECT * FROM orchestrator_leases WHERE pool_id = ? ORDER BY lease_id', [poolId])
      : await this.sql.query('SELECT * FROM orchestrator_leases ORDER BY lease_id');
    return rows.map((r) => ({ ...(r as unknown as LeaseRow), worker_pid: Number(r.worker_pid) }));
  }

  // -- orchestrator_replicas

  async heartbeat(r: ReplicaRow): Promise<void> {
    await this.upsert('orchestrator_replicas', 'replica_id', r);
  }

  async replicas(): Promise<ReplicaRow[]> {
    const rows = await this.sql.query('SELECT * FROM orchestrator_replicas ORDER BY replica_id');
    return rows.map((r) => ({
      ...(r as unknown as ReplicaRow),
      pid: Number(r.pid),
      is_leader: Number(r.is_leader),
      lock_session_id: num(r.lock_session_id),
    }));
  }

  // -- orchestrator_control

  async maintenance(): Promise<MaintenanceMode> {
    const rows = await this.sql.query("SELECT value FROM orchestrator_control WHERE name = 'maintenance_mode'");
    return rows[0]?.value === 'drain' ? 'drain' : 'normal';
  }

  async setMaintenance(mode: MaintenanceMode, now = new Date()): Promise<void> {
    await this.upsert('orchestrator_control', 'name', { name: 'maintenance_mode', value: mode, updated_at: now });
  }
}
