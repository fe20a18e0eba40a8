/**
 * One job's life: the leader hands a stream entry to an idle worker of a pool
 * for its model (an attempt and a lease in SQL), the worker loads the model
 * artifact from its host and runs; then, on the workers' own connections (a
 * worker finishes even when the leader that dispatched it died): done, or a
 * retry left pending for XAUTOCLAIM, or after the last attempt the dead-letter
 * stream with its cause. Settled in SQL first, acknowledged second, so a
 * redelivery after a crash in between finds the job done and only acknowledges.
 * Looking at the row is not enough to tell a job in hand (its worker may have
 * finished and not yet written `done`): the leader claims the row with one
 * conditional UPDATE before it dispatches, and a worker settles only the
 * attempt it was given.
 */
import type { Redis } from 'ioredis';
import type { HostFiles } from '../app-runtime/host-files';
import type { Scheduler } from '../app-runtime/scheduler';
import { jsonLine, type LogLevel } from './json-log';
import type { Pool, PoolWorker, WorkerPools } from './pools';
import type { OrchestratorStore } from './store';
import { ack, deadLetter, type StreamEntry } from './streams';

export const MODEL_DIR = '/var/lib/gpu-orchestrator/models';
export const artifactPath = (model: string) => `${MODEL_DIR}/${model}/model.safetensors`;
/** Where pool workers log (JSON lines) on their GPU host. */
export const WORKER_LOG = '/var/log/gpu-orchestrator/worker.log';

/** Real durations. */
export const JOB_TIMINGS = {
  /** One inference job. */
  jobMs: 2_000,
  /** A lease outlives its job by this much before anyone may doubt it. */
  leaseGraceMs: 30_000,
} as const;

export const MAX_ATTEMPTS = 3;

export interface JobCounters {
  processed: number;
  retries: number;
  deadLettered: number;
  evictions: number;
}

export interface Connections {
  store: OrchestratorStore;
  redis: Redis;
}

export interface JobRunnerDeps {
  pools: WorkerPools;
  scheduler: Scheduler;
  files(nodeId: string): HostFiles | undefined;
  /** How long a job runs now (real ms): a fault can make jobs long. */
  jobMs(): number;
  /** The workers' own connections. */
  workers: Connections;
  counters: JobCounters;
}

export type Handled = 'dispatched' | 'acknowledged' | 'in_hand' | 'no_worker';

export class JobRunner {
  constructor(private readonly deps: JobRunnerDeps) {}

  /** Whether the worker a lease names is alive and still on that job. */
  leaseLive(nodeId: string, pid: number, jobId: string): boolean {
    return this.deps.pools.workersOn(nodeId).some((w) => w.pid === pid && w.job?.jobId === jobId);
  }

  /** The leader's part: a delivered or reclaimed entry goes to a worker, or is only acknowledged if already done. */
  async handle(entry: StreamEntry, leader: Connections & { replicaId: string; log(level: LogLevel, msg: string, f?: object): void }): Promise<Handled> {
    const jobId = entry.fields.job_id ?? entry.id;
    const model = entry.fields.model ?? '';
    const row = await leader.store.job(jobId);
    if (row?.status === 'done') {
      await ack(leader.redis, entry.id);
      leader.log('info', 'Duplicate delivery acknowledged', { job_id: jobId, stream_id: entry.id });
      return 'acknowledged';
    }
    // This very entry was dead-lettered and its worker is acknowledging it (SQL first, then the DLQ, then XACK): not run again.
    // A replay is a new entry, and runs.
    if (row?.status === 'dead_letter' && row.stream_id === entry.id) return 'in_hand';
    if (row?.status === 'running' && row.pool_id && row.worker_pid !== null) {
      const pool = this.deps.pools.get(row.pool_id);
      if (pool && this.leaseLive(pool.nodeId, row.worker_pid, jobId)) return 'in_hand';
    }
    const slot = this.deps.pools.idleWorkers().find((s) => s.pool.model === model);
    if (!slot) return 'no_worker';
    const { pool, worker } = slot;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + this.deps.scheduler.scaled(this.deps.jobMs() + JOB_TIMINGS.leaseGraceMs));
    const attempt = await leader.store.claim(
      { job_id: jobId, stream_id: entry.id, model, pool_id: pool.id, worker_pid: worker.pid, lease_expires_at: expiresAt },
      row?.attempts ?? null,
      now,
    );
    // Another attempt holds the job (or it just settled): this delivery is not dispatched again.
    if (attempt === null) return 'in_hand';
    if (attempt > 1) {
      this.deps.counters.retries++;
      leader.log('warning', 'Job retry', { job_id: jobId, attempt, cause: row?.cause ?? null, pool_id: pool.id });
    }
    // The attempt in the id: a later attempt on the same worker has a lease of its own.
    const leaseId = `${pool.id}:${worker.pid}:${jobId}:${attempt}`;
    await leader.store.addLease({
      lease_id: leaseId,
      job_id: jobId,
      pool_id: pool.id,
      node_id: pool.nodeId,
      worker_pid: worker.pid,
      replica_id: leader.replicaId,
      acquired_at: now,
      expires_at: expiresAt,
    });
    this.deps.pools.run(pool, worker, { jobId, leaseId }, this.deps.jobMs(), () => {
      void this.finish(pool, worker, { entry, jobId, model, leaseId, attempt }).catch((err: Error) =>
        this.workerLog(pool, worker, 'error', 'Job settle failed', { job_id: jobId, error: err.message }),
      );
    });
    return 'dispatched';
  }

  /** The worker's part, once the job ran: the model artifact decides. */
  private async finish(
    pool: Pool,
    worker: PoolWorker,
    j: { entry: StreamEntry; jobId: string; model: string; leaseId: string; attempt: number },
  ): Promise<void> {
    const { store, redis } = this.deps.workers;
    const path = artifactPath(j.model);
    if (this.deps.files(pool.nodeId)?.exists(path)) {
      if (!(await store.complete(j.jobId, j.attempt))) return this.superseded(pool, worker, j);
      await store.releaseLease(j.leaseId);
      await ack(redis, j.entry.id);
      this.deps.counters.processed++;
      this.workerLog(pool, worker, 'info', 'Job done', { job_id: j.jobId, stream_id: j.entry.id });
      return;
    }
    const cause = 'model_artifact_missing';
    const error = `FileNotFoundError: model artifact not found: ${path}`;
    if (j.attempt < MAX_ATTEMPTS) {
      // Left pending: XAUTOCLAIM hands it out again once it has been idle long enough.
      if (!(await store.fail(j.jobId, j.attempt, 'retrying', cause, error))) return this.superseded(pool, worker, j);
      await store.releaseLease(j.leaseId);
      this.workerLog(pool, worker, 'warning', 'Job failed', { job_id: j.jobId, attempt: j.attempt, cause, error });
      return;
    }
    // The row first: an attempt that no longer holds the job must not dead-letter it.
    if (!(await store.fail(j.jobId, j.attempt, 'dead_letter', cause, error))) return this.superseded(pool, worker, j);
    await deadLetter(redis, {
      job_id: j.jobId,
      source_id: j.entry.id,
      model: j.model,
      cause,
      error,
      attempts: String(j.attempt),
      pool_id: pool.id,
      failed_at: new Date().toISOString(),
    });
    await ack(redis, j.entry.id);
    await store.releaseLease(j.leaseId);
    this.deps.counters.deadLettered++;
    this.workerLog(pool, worker, 'error', 'Job dead-lettered', { job_id: j.jobId, attempts: j.attempt, cause, error });
  }

  /** The job was taken over by a later attempt (its lease ran out): this one counts nothing and leaves the entry to that attempt. */
  private async superseded(pool: Pool, worker: PoolWorker, j: { jobId: string; leaseId: string; attempt: number }): Promise<void> {
    await this.deps.workers.store.releaseLease(j.leaseId);
    this.workerLog(pool, worker, 'warning', 'Job superseded', { job_id: j.jobId, attempt: j.attempt });
  }

  /** Leases whose worker is gone (killed, host down): released, the job left for redelivery. Returns how many. */
  async reap(leader: Connections & { log(level: LogLevel, msg: string, f?: object): void }): Promise<number> {
    let reaped = 0;
    for (const lease of await leader.store.leases()) {
      if (this.leaseLive(lease.node_id, lease.worker_pid, lease.job_id)) continue;
      // A lease written a moment ago may belong to a dispatch still on its way to the worker.
      if (this.deps.pools.isAlive(lease.node_id, lease.worker_pid)) continue;
      await leader.store.workerLost(lease.job_id, lease.pool_id, lease.worker_pid, `worker ${lease.worker_pid} on ${lease.node_id} exited`);
      await leader.store.releaseLease(lease.lease_id);
      leader.log('warning', 'Lease released', { lease_id: lease.lease_id, job_id: lease.job_id, reason: 'worker_lost' });
      reaped++;
    }
    return reaped;
  }

  private workerLog(pool: Pool, worker: PoolWorker, level: LogLevel, msg: string, fields: object): void {
    this.deps.files(pool.nodeId)?.append(WORKER_LOG, `${jsonLine(level, 'worker', msg, { pool_id: pool.id, pid: worker.pid, ...fields })}\n`);
  }
}
