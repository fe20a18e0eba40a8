/**
 * The GPU orchestrator part of the lab (seed 004, the GPU Orchestrator Operator
 * Runbook), on real backends: replicas of gpu-orchestrator.service on the
 * control hosts, worker pools as processes on the GPU hosts, jobs in a real
 * Redis stream, state and the leader lock in real MySQL/MariaDB or PostgreSQL.
 * Reached only through SSH, the replicas' HTTP API, SQL and Redis; the lab's
 * own routes inject faults and read the record of every Redis command.
 */
import { Redis } from 'ioredis';
import type { AppHost } from '../app-runtime/app-host';
import type { AppRuntime } from '../app-runtime/app-runtime';
import { ServiceUnit, type UnitDefinition } from '../app-runtime/service-units';
import { Scheduler } from '../app-runtime/scheduler';
import type { HostCommandExtension } from '../command-extension';
import type { GpuProcess } from '../command-types';
import { MEMORY_TOTAL_MIB } from '../gpus';
import type { LabObservability } from '../observability';
import type { LabPart } from '../world';
import type { Records } from '../records';
import { OrchestratorHttp } from './http-api';
import { INSTALLER_SCRIPT, ORCHESTRATOR_INSTALLER } from './installer';
import { artifactPath, JOB_TIMINGS, JobRunner, type JobCounters } from './job-runner';
import { LEADER_LOCK_NAME, type LockSession } from './leader-lock';
import { WORKER_EXECUTABLE, WorkerPools, type Pool } from './pools';
import { ORCHESTRATOR_BINARY, ORCHESTRATOR_ENV, orchestratorPrograms, type OtherProcess } from './programs';
import { RedisCommandLog } from './redis-record';
import { ReplicaProcess } from './replica';
import { clearTables, ensureSchema } from './schema';
import { openSql, type Sql, type SqlBackend } from './sql';
import { OrchestratorStore } from './store';
import { DLQ, ensureGroup, readNew, STREAM } from './streams';

export interface OrchestratorBackends {
  redisUrl: string;
  db: SqlBackend;
}

export interface OrchestratorOptions {
  backends: OrchestratorBackends;
  /** Hosts that run a replica (default: every host that is not a GPU worker). */
  replicaNodes?: string[];
  /** Real (wall) ms between election rounds; the page says 2 s (default 2000). */
  electionIntervalMs?: number;
  /** Wall ms between the leader's consumption passes (default a quarter of the election interval). */
  tickMs?: number;
  /** The leader lock's name (default gpu_orchestrator_leader); a shared MariaDB may need another. */
  lockName?: string;
}

export const UNIT = 'gpu-orchestrator.service';
export const DEFAULT_VERSION = '2.3.1';
export const MODELS = ['llama-3-8b', 'mistral-7b'] as const;
/** Where a host keeps the models it pulled; a missing artifact is restored from here. */
export const MODEL_CACHE = '/var/cache/gpu-orchestrator/models';
/** Real ms an entry must sit pending before the leader reclaims it (XAUTOCLAIM min-idle-time). */
const CLAIM_IDLE_MS = 30_000;

const UNIT_DEF: UnitDefinition = {
  id: UNIT,
  description: 'GPU orchestrator',
  fragment: '/etc/systemd/system/gpu-orchestrator.service',
  docs: 'https://docs.gpuaas.dev/orchestrator',
  execStart: `${ORCHESTRATOR_BINARY} --config ${ORCHESTRATOR_ENV}`,
  restart: 'on-failure',
  restartSecMs: 5_000,
  environmentFile: ORCHESTRATOR_ENV,
  tasks: 23,
  memoryMiB: 412.6,
};

export class OrchestratorLab implements LabPart {
  readonly pools: WorkerPools;
  readonly runner: JobRunner;
  readonly commands: RedisCommandLog;
  readonly counters: JobCounters = { processed: 0, retries: 0, deadLettered: 0, evictions: 0 };
  readonly lockName: string;
  readonly replicaNodes: string[];
  readonly http = new Map<string, OrchestratorHttp>();
  /** The running replica process of each replica host. */
  readonly processes = new Map<string, ReplicaProcess>();
  readonly partitioned = new Set<string>();
  /** GPU memory held outside the orchestrator, by `node/gpu`: another tenant's process with its own PID. */
  readonly gpuPressure = new Map<string, { pid: number; mib: number }>();
  /** Processes on GPU hosts that belong to no pool (a PID a dead worker left, taken by someone else). */
  /** Other tenants' processes on the GPU hosts: the app runtime's list, so every `ps` on a host shows the same table. */
  get otherProcesses(): OtherProcess[] {
    return this.apps.otherProcesses;
  }
  /** Replica hosts where the package step fails its verification (fault `install_fails`). */
  readonly installFailures = new Set<string>();
  jobMsOverride: number | null = null;
  private readonly scheduler: Scheduler;
  private readonly sql: Sql;
  private readonly redis: Redis;
  private readonly store: OrchestratorStore;
  private leaked: LockSession[] = [];
  private readonly electionIntervalMs: number;
  private readonly tickMs: number;
  private barriers = 0;

  constructor(
    private readonly apps: AppRuntime,
    private readonly opts: OrchestratorOptions & { timeScale: number; bindHost: string; records?: Records; observability?: LabObservability },
  ) {
    this.scheduler = new Scheduler(opts.timeScale);
    this.lockName = opts.lockName ?? LEADER_LOCK_NAME;
    this.electionIntervalMs = opts.electionIntervalMs ?? 2_000;
    this.tickMs = opts.tickMs ?? Math.max(10, this.electionIntervalMs / 4);
    const hosts = [...apps.hosts.values()];
    this.replicaNodes = opts.replicaNodes ?? hosts.filter((h) => !h.isWorker).map((h) => h.nodeId);
    if (this.replicaNodes.length < 2) throw new RangeError('the orchestrator needs two or more replica hosts');
    // The workers' connections: a worker settles its job even when the leader that dispatched it died.
    this.sql = openSql(opts.backends.db, 'gpu-orchestrator workers', 4);
    this.store = new OrchestratorStore(this.sql);
    this.redis = new Redis(opts.backends.redisUrl, { connectionName: 'gpu-orchestrator-worker', maxRetriesPerRequest: 2 });
    this.redis.on('error', () => undefined);
    this.commands = new RedisCommandLog(opts.backends.redisUrl);
    this.pools = new WorkerPools({
      scheduler: this.scheduler,
      hostState: (id) => apps.host(id)?.lab.state,
      events: { workerExited: () => undefined },
    });
    this.runner = new JobRunner({
      pools: this.pools,
      scheduler: this.scheduler,
      files: (id) => apps.host(id)?.files,
      jobMs: () => this.jobMsOverride ?? JOB_TIMINGS.jobMs,
      workers: { store: this.store, redis: this.redis },
      counters: this.counters,
    });
    for (const nodeId of this.replicaNodes) this.installReplica(this.host(nodeId));
  }

  /** Connects the lab's own clients, creates the tables, starts recording Redis, and resets. */
  async start(): Promise<void> {
    await ensureSchema(this.sql);
    for (const h of this.http.values()) await h.reserve();
    await this.commands.start();
    await this.reset();
  }

  host(nodeId: string): AppHost {
    const h = this.apps.host(nodeId);
    if (!h) throw new RangeError(`no host ${nodeId}`);
    return h;
  }

  unit(nodeId: string): ServiceUnit | undefined {
    return this.apps.host(nodeId)?.unit(UNIT);
  }

  /** The replica that believes it leads, if any. */
  leader(): ReplicaProcess | undefined {
    return [...this.processes.values()].find((p) => p.isLeader);
  }

  programs(nodeId: string): HostCommandExtension {
    return orchestratorPrograms(this.host(nodeId), this.pools, this.otherProcesses, { unit: UNIT, failing: () => this.installFailures.has(nodeId) });
  }

  /** A host lost power: its pool workers die with it (the replica is a unit: the app runtime handles it). */
  hostWentDown(nodeId: string): void {
    this.pools.killAllOn(nodeId);
  }

  /** The server still holds this session (and its lock) though its process can no longer use it. */
  leak(session: LockSession): void {
    this.leaked.push(session);
    session.onLost(() => {
      this.leaked = this.leaked.filter((s) => s !== session);
    });
  }

  leakedSessions(): number[] {
    return this.leaked.map((s) => s.sessionId);
  }

  gpuMemory(): { node_id: string; gpu: number; pct: number }[] {
    const out: { node_id: string; gpu: number; pct: number }[] = [];
    for (const h of this.apps.hosts.values()) {
      if (!h.isWorker) continue;
      for (const g of h.lab.state.gpus) {
        const used = this.gpuProcesses(h.nodeId)
          .filter((p) => p.gpuIndex === g.index)
          .reduce((sum, p) => sum + p.usedMiB, 0);
        out.push({ node_id: h.nodeId, gpu: g.index, pct: Math.min(100, (used / MEMORY_TOTAL_MIB) * 100) });
      }
    }
    return out;
  }

  /** What NVML lists on a GPU host: every live pool worker, and any outside process holding memory. */
  gpuProcesses(nodeId: string): GpuProcess[] {
    const workers = this.pools.workersOn(nodeId).map((w) => ({ pid: w.pid, gpuIndex: w.gpuIndex, usedMiB: w.gpuMiB, name: WORKER_EXECUTABLE }));
    const outside = [...this.gpuPressure.entries()]
      .filter(([key]) => key.startsWith(`${nodeId}/`))
      .map(([key, p]) => ({ pid: p.pid, gpuIndex: Number(key.split('/')[1]), usedMiB: p.mib, name: '/usr/bin/python3' }));
    return [...workers, ...outside];
  }

  /**
   * Two replicas (or more) running 2.3.1 and electing, one pool per model on
   * the GPU hosts, every model artifact in place, empty tables and streams, no
   * fault. Replicas elect at once; the reset does not wait for a leader.
   */
  async reset(now = new Date()): Promise<void> {
    for (const nodeId of this.replicaNodes) this.unit(nodeId)?.kill();
    this.scheduler.cancelAll();
    this.pools.clear();
    for (const s of this.leaked) s.destroy();
    this.leaked = [];
    this.partitioned.clear();
    this.gpuPressure.clear();
    this.otherProcesses.length = 0;
    this.installFailures.clear();
    this.jobMsOverride = null;
    Object.assign(this.counters, { processed: 0, retries: 0, deadLettered: 0, evictions: 0 });

    await clearTables(this.sql);
    await this.redis.del(STREAM, DLQ);
    await ensureGroup(this.redis);
    await this.store.setMaintenance('normal', now);
    const workers = [...this.apps.hosts.values()].filter((h) => h.isWorker);
    for (const h of workers) this.seedModels(h);
    for (const [i, model] of MODELS.entries()) {
      const h = workers[i % workers.length]!;
      const pool = this.pools.start({ id: `pool-${model}`, nodeId: h.nodeId, model, workers: 2 });
      await this.store.savePool({ pool_id: pool.id, node_id: h.nodeId, model, workers: 2, status: 'running', memory_mib: this.pools.memoryMiB(pool) }, now);
    }
    await this.barrier();
    this.commands.clear();

    const since = new Date(now.getTime() - 3_600_000);
    for (const nodeId of this.replicaNodes) {
      const h = this.host(nodeId);
      this.seedReplicaFiles(h);
      const unit = this.unit(nodeId)!;
      unit.installed = true;
      unit.enabled = true;
      unit.assumeRunning(since);
    }
  }

  async stop(): Promise<void> {
    for (const nodeId of this.replicaNodes) this.unit(nodeId)?.kill();
    this.scheduler.cancelAll();
    this.pools.clear();
    for (const s of this.leaked) s.destroy();
    this.leaked = [];
    await this.commands.stop();
    this.redis.disconnect();
    await this.sql.close().catch(() => undefined);
  }

  snapshot(): object {
    return {
      lock_name: this.lockName,
      backend: this.opts.backends.db.kind,
      election_interval_ms: this.electionIntervalMs,
      replicas: this.replicaNodes.map((nodeId) => {
        const p = this.processes.get(nodeId);
        const s = this.unit(nodeId)?.status();
        return {
          node_id: nodeId,
          url: this.url(nodeId),
          unit: s ? { active: s.activeState, sub: s.subState, pid: s.mainPid } : null,
          replica_id: p?.replicaId ?? null,
          is_leader: p?.isLeader ?? false,
          lock_session_id: p?.lockSessionId ?? null,
          partitioned: this.partitioned.has(nodeId),
        };
      }),
      leaked_lock_sessions: this.leakedSessions(),
      pools: this.pools.list().map((p) => ({
        pool_id: p.id,
        node_id: p.nodeId,
        model: p.model,
        status: p.status,
        memory_mib: this.pools.memoryMiB(p),
        runaway: p.runaway ? { growth_mib_per_s: p.runaway.growthMiBPerSec, ignore_term: p.runaway.ignoreTerm } : null,
        workers: p.workers.filter((w) => w.alive).map((w) => ({ pid: w.pid, gpu: w.gpuIndex, rss_mib: w.rssMiB, job_id: w.job?.jobId ?? null })),
      })),
      other_processes: this.otherProcesses.filter((o) => o.alive).map((o) => ({ node_id: o.nodeId, pid: o.pid, user: o.user, args: o.args })),
      job_ms: this.jobMsOverride ?? JOB_TIMINGS.jobMs,
      counters: { ...this.counters },
    };
  }

  /** The API base URL of a replica host (the port is kept across restarts); null before its first start. */
  url(nodeId: string): string | null {
    const port = this.http.get(nodeId)?.port ?? 0;
    return port ? `http://${this.opts.bindHost === '0.0.0.0' ? '127.0.0.1' : this.opts.bindHost}:${port}` : null;
  }

  /** A pool started outside the API (a drill's test pool) gets its worker_pools row, as the API's start would write it. */
  async recordPool(pool: Pool): Promise<void> {
    await this.store.savePool({
      pool_id: pool.id,
      node_id: pool.nodeId,
      model: pool.model,
      workers: pool.workers.length,
      status: 'running',
      memory_mib: this.pools.memoryMiB(pool),
    });
  }

  /** Wall ms an entry must sit pending before the leader's reclaimer takes it over (XAUTOCLAIM's min-idle-time). */
  get claimIdleMs(): number {
    return this.scheduler.scaled(CLAIM_IDLE_MS);
  }

  /** Wall ms that `realMs` of lab time takes. */
  scaled(realMs: number): number {
    return this.scheduler.scaled(realMs);
  }

  /** A Redis connection of its own under `connectionName`, as a process would open it; the caller closes it. */
  connectRedis(connectionName: string): Redis {
    const r = new Redis(this.opts.backends.redisUrl, { connectionName, maxRetriesPerRequest: 1 });
    r.on('error', () => undefined);
    return r;
  }

  /** The jobs' rows in SQL. */
  jobs() {
    return this.store.jobs();
  }

  /** The maintenance flag every replica reads. */
  maintenance() {
    return this.store.maintenance();
  }

  /** Adds a job to the stream as a producer would (lab convenience for drills). */
  async addJob(fields: Record<string, string>): Promise<string> {
    return (await this.redis.call('XADD', STREAM, '*', ...Object.entries(fields).flat())) as string;
  }

  /**
   * A consumer of the group reads `jobs` new entries and dies before dispatching any (fault
   * job_backlog): they stay pending on it until the leader reclaims them. Returns how many it took.
   */
  async strandJobs(consumer: string, jobs: { job_id: string; model: string }[]): Promise<number> {
    for (const j of jobs) await this.addJob(j);
    // Another reader of the group: it takes what the leader has not read yet.
    const reader = new Redis(this.opts.backends.redisUrl, { connectionName: consumer, maxRetriesPerRequest: 2 });
    reader.on('error', () => undefined);
    try {
      return (await readNew(reader, consumer, jobs.length)).length;
    } finally {
      reader.disconnect();
    }
  }

  /** Jobs dispatched in the next `holdMs` (real) run `jobMs` each; then jobs take their usual time again (fault job_backlog). */
  holdWorkers(jobMs: number, holdMs: number): void {
    this.jobMsOverride = jobMs;
    this.scheduler.after(holdMs, () => {
      if (this.jobMsOverride === jobMs) this.jobMsOverride = null;
    });
  }

  // ---------------------------------------------------------------------------------------------

  private installReplica(host: AppHost): void {
    const nodeId = host.nodeId;
    const http = new OrchestratorHttp({
      nodeId,
      bindHost: this.opts.bindHost,
      lockName: this.lockName,
      staleAfterMs: 3 * this.electionIntervalMs,
      pools: this.pools,
      counters: this.counters,
      gpuMemory: () => this.gpuMemory(),
      partitioned: () => this.partitioned.has(nodeId),
      recordMutation: (m) => this.opts.records?.mutation({ ...m, applied: true }),
    });
    this.http.set(nodeId, http);
    const deps = { state: host.lab.state, journal: host.journal, scheduler: this.scheduler, files: host.files };
    host.units.set(
      UNIT,
      new ServiceUnit(UNIT_DEF, deps, () => {
        const p = new ReplicaProcess({
          nodeId,
          redisUrl: this.opts.backends.redisUrl,
          db: this.opts.backends.db,
          lockName: this.lockName,
          timings: { electionIntervalMs: this.electionIntervalMs, tickMs: this.tickMs, claimIdleMs: this.scheduler.scaled(CLAIM_IDLE_MS) },
          pools: this.pools,
          runner: this.runner,
          version: () => /^ORCHESTRATOR_VERSION=(.*)$/m.exec(host.files.read(ORCHESTRATOR_ENV) ?? '')?.[1] ?? 'unknown',
          partitioned: () => this.partitioned.has(nodeId),
          leak: (s) => this.leak(s),
          http,
          counters: this.counters,
          logs: this.opts.observability?.writer('gpu-orchestrator', nodeId),
        });
        this.processes.set(nodeId, p);
        return p.behaviour();
      }),
    );
  }

  private seedReplicaFiles(h: AppHost): void {
    h.files.addDir('/etc/gpu-orchestrator');
    h.files.write(ORCHESTRATOR_BINARY, `\u007fELF gpu-orchestrator ${DEFAULT_VERSION}\n`, { mode: 0o755 });
    h.files.write(ORCHESTRATOR_INSTALLER, INSTALLER_SCRIPT, { mode: 0o755 });
    h.files.write(
      ORCHESTRATOR_ENV,
      [
        `ORCHESTRATOR_VERSION=${DEFAULT_VERSION}`,
        'ORCHESTRATOR_API_PORT=8008',
        `ORCHESTRATOR_DB_KIND=${this.opts.backends.db.kind}`,
        `ORCHESTRATOR_LEADER_LOCK=${this.lockName}`,
        `ORCHESTRATOR_STREAM=${STREAM}`,
        'ORCHESTRATOR_CONSUMER_GROUP=cg:inference',
        'GPU_POOL_MAX_TOTAL=8',
        '',
      ].join('\n'),
      { mode: 0o640 },
    );
  }

  private seedModels(h: AppHost): void {
    for (const model of MODELS) {
      const bytes = `safetensors ${model}\n`;
      h.files.write(`${MODEL_CACHE}/${model}/model.safetensors`, bytes);
      h.files.write(artifactPath(model), bytes);
    }
  }

  /** Waits until Redis's MONITOR feed has delivered everything issued so far, so a clear() drops exactly the past. */
  private async barrier(): Promise<void> {
    const token = `lab-barrier-${++this.barriers}-${Date.now()}`;
    const seen = this.commands.waitFor((args) => args[0]?.toUpperCase() === 'ECHO' && args[1] === token, 5_000);
    await this.redis.call('ECHO', token);
    await seen;
  }
}
