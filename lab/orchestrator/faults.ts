/**
 * The orchestrator's failure modes (seed 004), each as a real host and real
 * backends would show it, with the fix an operator makes over SSH, SQL or the
 * API. Faults are applied to the lab's state; nothing here is recorded as the
 * engine's doing.
 */
import { z } from 'zod';
import { artifactPath, MAX_ATTEMPTS, MODEL_DIR } from './job-runner';
import { DEFAULT_VERSION, MODEL_CACHE, MODELS, type OrchestratorLab } from './orchestrator-lab';
import { WORKER_GPU_MIB } from './pools';
import { PreviousReleaseError, stagePreviousRelease } from './previous-release';
import { StaleMessagesError, strandMessages, waitForDeadLetters, type StaleMessagesLab } from './stale-messages';
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
   * What a weekly upgrade drill finds (previous-release.ts): every replica on `from_version`
   * by the package step, a long job (`long_jobs`' job_ms) on every idle worker, `queued` more waiting.
   */
  z
    .object({
      fault: z.literal('previous_release_with_jobs'),
      from_version: z
        .string()
        .regex(/^\d+\.\d+\.\d+$/)
        .default(DEFAULT_VERSION),
      job_ms: z.number().int().min(1).max(3_600_000).default(120_000),
      queued: z.number().int().min(0).max(100).default(2),
      prefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,48}$/)
        .optional(),
    })
    .strict(),
  /**
   * Stale messages (seed 004's reclaimer drill): `count` jobs read by a replica process that dies without XACK,
   * their model's artifact gone (missing_model_artifact). The leader reclaims them after its min-idle time,
   * retries each up to MAX_ATTEMPTS and dead-letters it. With `wait`, answered once all are in the DLQ (at most `timeout_ms`);
   * with `restore_artifact` too, the operator's fix is made then: the artifact copied back from the pull cache.
   */
  z
    .object({
      fault: z.literal('stale_messages'),
      /** The replica host whose process read them and died (default: the leader's). */
      node_id: z.string().optional(),
      model: Model.default('llama-3-8b'),
      count: z.number().int().min(1).max(200).default(12),
      job_prefix: z
        .string()
        .regex(/^[A-Za-z0-9_.:-]{1,48}$/)
        .optional(),
      wait: z.boolean().default(true),
      timeout_ms: z.number().int().min(1).max(3_600_000).optional(),
      restore_artifact: z.boolean().default(false),
    })
    .strict(),
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
      const models = lab.pools.runningModels();
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
    case 'previous_release_with_jobs': {
      await applyFault(lab, { fault: 'long_jobs', job_ms: f.job_ms });
      try {
        return { fault: f.fault, job_ms: f.job_ms, ...(await stagePreviousRelease(lab, f)) };
      } catch (err) {
        throw err instanceof PreviousReleaseError ? new FaultError(err.message) : err;
      }
    }
    case 'stale_messages':
      return staleMessages(lab, f);
  }
}

/**
 * The storm's root cause first (the artifact gone), then the stranded batch; by default the answer waits for
 * the reclaimer to dead-letter all of it (10 minutes of lab time, at least 10 s), so a drilled run finds a DLQ.
 */
async function staleMessages(lab: OrchestratorLab, f: Extract<Fault, { fault: 'stale_messages' }>): Promise<Record<string, unknown>> {
  const consumerNode = f.node_id ?? lab.leader()?.nodeId ?? lab.replicaNodes[0]!;
  if (!lab.replicaNodes.includes(consumerNode)) throw new FaultError(`${consumerNode} runs no replica`);
  if (f.restore_artifact && !f.wait) throw new FaultError('restore_artifact needs wait: the fix comes once the storm is in the DLQ');
  const artifact = await applyFault(lab, { fault: 'missing_model_artifact', model: f.model });
  const access: StaleMessagesLab = {
    consumerNode,
    nextPid: () => lab.host(consumerNode).lab.state.nextPid(),
    connectRedis: (name) => lab.connectRedis(name),
    jobs: () => lab.jobs(),
    drained: async () => (await lab.maintenance()) === 'drain',
  };
  try {
    const stranded = await strandMessages(access, f.model, f.count, f.job_prefix);
    const applied = {
      fault: f.fault,
      model: f.model,
      count: f.count,
      consumer: stranded.consumer,
      consumer_node: consumerNode,
      job_ids: stranded.job_ids,
      stream_ids: stranded.stream_ids,
      path: artifact.path,
      removed_from: artifact.removed_from,
      min_idle_ms: lab.claimIdleMs,
      max_attempts: MAX_ATTEMPTS,
    };
    if (!f.wait) return applied;
    const timeoutMs = f.timeout_ms ?? Math.max(10_000, lab.scaled(10 * 60_000));
    const settled = await waitForDeadLetters(access, stranded.job_ids, timeoutMs, Math.max(20, lab.claimIdleMs / 4));
    if (!f.restore_artifact) return { ...applied, ...settled };
    return { ...applied, ...settled, restored_on: restoreFromPullCache(lab, f.model, artifact.removed_from as string[]) };
  } catch (err) {
    if (err instanceof StaleMessagesError) throw new FaultError(err.message);
    throw err;
  }
}

/** The operator's fix for a missing artifact (`install -D -m 0644 <pull cache copy> <artifact>` on each host): where it was restored. */
function restoreFromPullCache(lab: OrchestratorLab, model: string, nodeIds: string[]): string[] {
  const cached = `${MODEL_CACHE}/${model}/model.safetensors`;
  for (const nodeId of nodeIds) {
    const files = lab.host(nodeId).files;
    const bytes = files.read(cached);
    if (bytes === undefined) throw new FaultError(`${cached} is gone from ${nodeId} too: nothing to restore the artifact from`);
    files.write(artifactPath(model), bytes, { mode: 0o644 });
  }
  return nodeIds;
}
