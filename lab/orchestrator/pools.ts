/**
 * Worker pools as processes on GPU hosts: each worker is a PID in the host's
 * process table (ps), holds host and GPU memory, runs one job at a time, and
 * answers signals like the real worker: SIGTERM finishes the job in hand and
 * exits, SIGKILL ends it at once (the job's lease is then left to the leader's
 * reaper). A runaway pool's memory grows every second and it may ignore SIGTERM.
 */
import type { SimHostState } from '../gpu-host-state';
import type { Scheduler, Timer } from '../app-runtime/scheduler';

/** Real durations and sizes. */
export const POOL_TIMINGS = {
  /** A runaway pool grows this often (real ms). */
  growthTickMs: 1_000,
  /** A worker's exit after SIGTERM when it is idle: it closes its model. */
  termExitMs: 500,
} as const;

export const WORKER_RSS_MIB = 2_048;
export const WORKER_GPU_MIB = 18_432;
export const POOL_USER = 'gpuorch';

export interface WorkerJob {
  jobId: string;
  leaseId: string;
  timer: Timer;
}

export interface PoolWorker {
  pid: number;
  poolId: string;
  nodeId: string;
  gpuIndex: number;
  startedAt: Date;
  rssMiB: number;
  gpuMiB: number;
  job: WorkerJob | null;
  /** SIGTERM received: exits once the job in hand is done. */
  terminating: boolean;
  alive: boolean;
}

export interface Pool {
  id: string;
  nodeId: string;
  model: string;
  workers: PoolWorker[];
  status: 'running' | 'stopping' | 'stopped';
  runaway: { growthMiBPerSec: number; ignoreTerm: boolean; timer: Timer } | null;
}

export type Signal = 'TERM' | 'KILL';

export interface PoolEvents {
  /** A worker exited (by signal or after finishing in stopping); `abandoned` is the job it was running when killed. */
  workerExited(pool: Pool, worker: PoolWorker, abandoned: WorkerJob | null): void;
}

export const WORKER_EXECUTABLE = '/opt/gpu-orchestrator/venv/bin/python3';

/** The argv a worker runs with, as ps shows it. */
export function workerArgs(pool: Pick<Pool, 'id' | 'model'>, gpuIndex: number): string {
  return `${WORKER_EXECUTABLE} -m gpu_orchestrator.worker --pool ${pool.id} --model ${pool.model} --gpu ${gpuIndex}`;
}

export class WorkerPools {
  private readonly pools = new Map<string, Pool>();

  constructor(private readonly deps: { scheduler: Scheduler; hostState(nodeId: string): SimHostState | undefined; events: PoolEvents }) {}

  get(id: string): Pool | undefined {
    return this.pools.get(id);
  }

  list(): Pool[] {
    return [...this.pools.values()];
  }
  /** The models the running pools serve, each once: what a job added now can be run by. */
  runningModels(): Pool['model'][] {
    return [
      ...new Set(
        this.list()
          .filter((p) => p.status === 'running')
          .map((p) => p.model),
      ),
    ];
  }

  /** Starts (or restarts) the pool's workers on its host, one per GPU from 0. */
  start(spec: { id: string; nodeId: string; model: string; workers: number }): Pool {
    const state = this.deps.hostState(spec.nodeId);
    if (!state?.isWorker) throw new RangeError(`no GPU host ${spec.nodeId}`);
    const previous = this.pools.get(spec.id);
    if (previous) for (const w of previous.workers) this.exit(previous, w, true);
    const pool: Pool = { id: spec.id, nodeId: spec.nodeId, model: spec.model, workers: [], status: 'running', runaway: null };
    for (let i = 0; i < spec.workers; i++) {
      pool.workers.push({
        pid: state.nextPid(),
        poolId: pool.id,
        nodeId: pool.nodeId,
        gpuIndex: i % Math.max(1, state.gpus.length),
        startedAt: new Date(),
        rssMiB: WORKER_RSS_MIB,
        gpuMiB: WORKER_GPU_MIB,
        job: null,
        terminating: false,
        alive: true,
      });
    }
    this.pools.set(pool.id, pool);
    return pool;
  }

  /** Every live worker on a host, for ps and kill. */
  workersOn(nodeId: string): PoolWorker[] {
    return this.list()
      .filter((p) => p.nodeId === nodeId)
      .flatMap((p) => p.workers.filter((w) => w.alive));
  }

  idleWorkers(): { pool: Pool; worker: PoolWorker }[] {
    return this.list()
      .filter((p) => p.status === 'running')
      .flatMap((p) => p.workers.filter((w) => w.alive && !w.terminating && !w.job).map((worker) => ({ pool: p, worker })));
  }

  isAlive(nodeId: string, pid: number): boolean {
    return this.workersOn(nodeId).some((w) => w.pid === pid);
  }

  /** Runs a job on the worker for `realMs`; `done` is called when it finishes, never if the worker is killed first. */
  run(pool: Pool, worker: PoolWorker, job: { jobId: string; leaseId: string }, realMs: number, done: () => void): void {
    // Killed while the dispatch was on its way: the job is lost with it and its lease left to the reaper.
    if (!worker.alive) return;
    const timer = this.deps.scheduler.after(realMs, () => {
      worker.job = null;
      done();
      if (worker.terminating && worker.alive) this.exit(pool, worker, false);
    });
    worker.job = { ...job, timer };
  }

  /** kill(2) on a worker's PID; false when the PID is not one of this host's workers. */
  signal(nodeId: string, pid: number, sig: Signal): boolean {
    for (const pool of this.list()) {
      if (pool.nodeId !== nodeId) continue;
      const w = pool.workers.find((x) => x.pid === pid && x.alive);
      if (!w) continue;
      if (sig === 'KILL') this.exit(pool, w, true);
      else if (!pool.runaway?.ignoreTerm) {
        w.terminating = true;
        if (!w.job) this.deps.scheduler.after(POOL_TIMINGS.termExitMs, () => w.alive && this.exit(pool, w, false));
      }
      return true;
    }
    return false;
  }

  /** The graceful stop the API asks for: SIGTERM to every worker. */
  stop(pool: Pool): void {
    if (pool.status === 'stopped') return;
    pool.status = 'stopping';
    for (const w of pool.workers.filter((x) => x.alive)) this.signal(pool.nodeId, w.pid, 'TERM');
    this.settle(pool);
  }

  /** Memory grows by `growthMiBPerSec` every second (host RSS and GPU memory) until the pool ends. */
  makeRunaway(pool: Pool, growthMiBPerSec: number, ignoreTerm: boolean): void {
    pool.runaway?.timer.cancel();
    const tick = () => {
      for (const w of pool.workers.filter((x) => x.alive)) {
        w.rssMiB += growthMiBPerSec;
        w.gpuMiB += growthMiBPerSec / 2;
      }
      if (pool.runaway) pool.runaway.timer = this.deps.scheduler.after(POOL_TIMINGS.growthTickMs, tick);
    };
    pool.runaway = { growthMiBPerSec, ignoreTerm, timer: this.deps.scheduler.after(POOL_TIMINGS.growthTickMs, tick) };
  }

  memoryMiB(pool: Pool): number {
    return pool.workers.filter((w) => w.alive).reduce((sum, w) => sum + w.rssMiB, 0);
  }

  /** GPU memory held on a host's GPU by the workers there. */
  gpuUsedMiB(nodeId: string, gpuIndex: number): number {
    return this.workersOn(nodeId)
      .filter((w) => w.gpuIndex === gpuIndex)
      .reduce((sum, w) => sum + w.gpuMiB, 0);
  }

  /** The host went down or the lab resets: every worker dies, nothing is reported. */
  killAllOn(nodeId: string): void {
    for (const pool of this.list().filter((p) => p.nodeId === nodeId)) {
      for (const w of pool.workers) this.exitQuietly(w);
      pool.runaway?.timer.cancel();
      pool.runaway = null;
      pool.status = 'stopped';
    }
  }

  clear(): void {
    for (const pool of this.list()) for (const w of pool.workers) this.exitQuietly(w);
    for (const pool of this.list()) pool.runaway?.timer.cancel();
    this.pools.clear();
  }

  private exitQuietly(w: PoolWorker): void {
    w.job?.timer.cancel();
    w.job = null;
    w.alive = false;
  }

  private exit(pool: Pool, worker: PoolWorker, killed: boolean): void {
    if (!worker.alive) return;
    const abandoned = killed ? worker.job : null;
    this.exitQuietly(worker);
    this.settle(pool);
    this.deps.events.workerExited(pool, worker, abandoned);
  }

  /** A pool with no live worker left is stopped. */
  private settle(pool: Pool): void {
    if (pool.workers.some((w) => w.alive)) return;
    pool.status = 'stopped';
    pool.runaway?.timer.cancel();
    pool.runaway = null;
  }
}
