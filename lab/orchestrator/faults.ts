/**
 * The orchestrator's failure modes (seed 004), each as a real host and real
 * backends would show it, with the fix an operator makes over SSH, SQL or the
 * API. Faults are applied to the lab's state; nothing here is recorded as the
 * engine's doing.
 */
import { z } from 'zod';
import { artifactPath, MODEL_DIR } from './job-runner';
import { MODELS, type OrchestratorLab } from './orchestrator-lab';
import { WORKER_GPU_MIB } from './pools';
import { replicaId } from './replica';
import { MEMORY_TOTAL_MIB } from '../gpus';

const Model = z.enum(MODELS);

export const FaultSchema = z.discriminatedUnion('fault', [
  /** SIGKILL to the leader's process: its socket closes, the server drops its lock, systemd restarts it. */
  z.object({ fault: z.literal('kill_leader') }).strict(),
  /** The leader dies without the server hearing of it: its session (and the lock) stays, idle, until someone ends it. */
  z.object({ fault: z.literal('stale_lock') }).strict(),
  /** The leader's host is cut off from SQL and Redis: it steps down but its session keeps the lock; the process lives on. */
  z.object({ fault: z.literal('partitioned_leader') }).strict(),
  z.object({ fault: z.literal('heal_partition'), node_id: z.string().optional() }).strict(),
  /** A pool's memory grows every second; with ignore_term it shrugs off SIGTERM (only SIGKILL ends it). */
  z
    .object({
      fault: z.literal('runaway_pool'),
      pool_id: z.string().default('pool-llama-3-8b'),
      growth_mib_per_s: z.number().positive().default(512),
      ignore_term: z.boolean().default(false),
    })
    .strict(),
  /** Something outside the orchestrator holds GPU memory: NVML shows the GPU above `pct`. */
  z
    .object({
      fault: z.literal('gpu_memory_pressure'),
      node_id: z.string().default('dev-gpu-1'),
      gpu_index: z.number().int().min(0).default(0),
      pct: z.number().min(0).max(100).default(95),
    })
    .strict(),
  /** The root cause of a DLQ storm: the model's artifact is gone from the GPU hosts (the pull cache keeps a copy). */
  z.object({ fault: z.literal('missing_model_artifact'), model: Model.default('llama-3-8b'), node_id: z.string().optional() }).strict(),
  /**
   * One of the pool's workers dies and a tenant's new process is given its PID: whoever
   * kills by the PID they noted earlier kills the wrong process.
   */
  z.object({ fault: z.literal('pid_reused'), pool_id: z.string().default('pool-llama-3-8b') }).strict(),
  /**
   * A pool of its own on a GPU host (a drill's test pool): started as the API would,
   * recorded in worker_pools, and with `runaway` growing and shrugging off SIGTERM.
   */
  z
    .object({
      fault: z.literal('test_pool'),
      node_id: z.string(),
      pool_id: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/),
      model: Model.default('mistral-7b'),
      workers: z.number().int().min(1).max(8).default(2),
      runaway: z.boolean().default(true),
    })
    .strict(),
  /** Jobs take this long (real ms), so a drain has jobs in flight. */
  z.object({ fault: z.literal('long_jobs'), job_ms: z.number().int().min(1).max(3_600_000).default(60_000) }).strict(),
  /** The package step fails its checksum on this replica host (a corrupt mirror): it exits 1 and changes nothing. */
  z.object({ fault: z.literal('install_fails'), node_id: z.string() }).strict(),
  /**
   * Seed 004's alert drill: a burst of `jobs` read by a replica that died before dispatching
   * them (all pending in the group, past the page's 100) while every worker is held on a job of
   * `hold_ms` (real), so every live worker holds a lease. After `hold_ms` jobs take their usual
   * time and the leader drains the backlog.
   */
  z
    .object({
      fault: z.literal('job_backlog'),
      jobs: z.number().int().min(1).max(2_000).default(150),
      hold_ms: z
        .number()
        .int()
        .min(1)
        .max(24 * 3_600_000)
        .default(30 * 60_000),
    })
    .strict(),
]);

export type Fault = z.infer<typeof FaultSchema>;

export class FaultError extends Error {}

export async function applyFault(lab: OrchestratorLab, f: Fault): Promise<Record<string, unknown>> {
  switch (f.fault) {
    case 'kill_leader':
    case 'stale_lock': {
      const leader = lab.leader();
      if (!leader) throw new FaultError('no replica leads now');
      const lockSessionId = leader.lockSessionId;
      if (f.fault === 'stale_lock') leader.leakOnExit = true;
      lab.unit(leader.nodeId)?.signal('KILL');
      return { fault: f.fault, node_id: leader.nodeId, pid: leader.pid, replica_id: leader.replicaId, lock_session_id: lockSessionId };
    }
    case 'partitioned_leader': {
      const leader = lab.leader();
      if (!leader) throw new FaultError('no replica leads now');
      lab.partitioned.add(leader.nodeId);
      return { fault: f.fault, node_id: leader.nodeId, pid: leader.pid, replica_id: leader.replicaId, lock_session_id: leader.lockSessionId };
    }
    case 'heal_partition': {
      const nodes = f.node_id ? [f.node_id] : [...lab.partitioned];
      for (const n of nodes) lab.partitioned.delete(n);
      return { fault: f.fault, healed: nodes };
    }
    case 'runaway_pool': {
      const pool = lab.pools.get(f.pool_id);
      if (!pool || pool.status === 'stopped') throw new FaultError(`no running pool ${f.pool_id}`);
      lab.pools.makeRunaway(pool, f.growth_mib_per_s, f.ignore_term);
      return { fault: f.fault, pool_id: pool.id, node_id: pool.nodeId, pids: pool.workers.filter((w) => w.alive).map((w) => w.pid) };
    }
    case 'gpu_memory_pressure': {
      const h = lab.host(f.node_id);
      if (!h.isWorker || !h.lab.state.gpu(f.gpu_index)) throw new FaultError(`no GPU ${f.gpu_index} on ${f.node_id}`);
      const key = `${f.node_id}/${f.gpu_index}`;
      const held = lab.pools.gpuUsedMiB(f.node_id, f.gpu_index);
      const pid = lab.gpuPressure.get(key)?.pid ?? h.lab.state.nextPid();
      lab.gpuPressure.set(key, { pid, mib: Math.max(0, Math.round((f.pct / 100) * MEMORY_TOTAL_MIB - held)) });
      return { fault: f.fault, node_id: f.node_id, gpu_index: f.gpu_index, pct: f.pct, pid, worker_gpu_mib: WORKER_GPU_MIB };
    }
    case 'missing_model_artifact': {
      const hosts = [...lab.pools.list().map((p) => p.nodeId), ...(f.node_id ? [f.node_id] : [])];
      const removed: string[] = [];
      for (const nodeId of new Set(f.node_id ? [f.node_id] : hosts)) {
        if (lab.host(nodeId).files.remove(artifactPath(f.model))) removed.push(nodeId);
      }
      return { fault: f.fault, model: f.model, path: artifactPath(f.model), model_dir: MODEL_DIR, removed_from: removed };
    }
    case 'pid_reused': {
      const pool = lab.pools.get(f.pool_id);
      const worker = pool?.workers.find((w) => w.alive);
      if (!pool || !worker) throw new FaultError(`no live worker in pool ${f.pool_id}`);
      lab.pools.signal(pool.nodeId, worker.pid, 'KILL');
      const args = '/usr/bin/python3 /home/tenant-7/train.py --epochs 40';
      lab.otherProcesses.push({ nodeId: pool.nodeId, pid: worker.pid, user: 'tenant-7', rssMiB: 3_072, startedAt: new Date(), args, alive: true });
      return { fault: f.fault, pool_id: pool.id, node_id: pool.nodeId, pid: worker.pid, now_running: args };
    }
    case 'test_pool': {
      if (!lab.host(f.node_id).isWorker) throw new FaultError(`${f.node_id} is not a GPU host`);
      const pool = lab.pools.start({ id: f.pool_id, nodeId: f.node_id, model: f.model, workers: f.workers });
      if (f.runaway) lab.pools.makeRunaway(pool, 64, true);
      await lab.recordPool(pool);
      return { fault: f.fault, pool_id: pool.id, node_id: pool.nodeId, pids: pool.workers.map((w) => w.pid), runaway: f.runaway };
    }
    case 'long_jobs':
      lab.jobMsOverride = f.job_ms;
      return { fault: f.fault, job_ms: f.job_ms };
    case 'job_backlog': {
      const models = [
        ...new Set(
          lab.pools
            .list()
            .filter((p) => p.status === 'running')
            .map((p) => p.model),
        ),
      ];
      if (models.length === 0) throw new FaultError('no running pool to hold');
      const replicaNode = lab.replicaNodes[0]!;
      // The consumer name of a replica process that is gone (a PID the host handed out and took back).
      const consumer = replicaId(replicaNode, lab.host(replicaNode).lab.state.nextPid());
      lab.holdWorkers(f.hold_ms, f.hold_ms);
      const prefix = `backlog-${Date.now()}`;
      const jobs = Array.from({ length: f.jobs }, (_, i) => ({ job_id: `${prefix}-${i + 1}`, model: models[i % models.length]! }));
      const stranded = await lab.strandJobs(consumer, jobs);
      return { fault: f.fault, jobs: f.jobs, stranded, consumer, models, hold_ms: f.hold_ms };
    }
    case 'install_fails':
      if (!lab.replicaNodes.includes(f.node_id)) throw new FaultError(`${f.node_id} runs no replica`);
      lab.installFailures.add(f.node_id);
      return { fault: f.fault, node_id: f.node_id };
  }
}
