/**
 * One gpu-orchestrator process (the main process of gpu-orchestrator.service on
 * a control host). It connects to SQL and Redis, serves the HTTP API, and runs
 * leader election every electionIntervalMs of real time on its own lock
 * session. The leader alone consumes the stream (XAUTOCLAIM, then XREADGROUP
 * unless the orchestrator is in drain), reaps leases of dead workers and keeps
 * worker_pools true to the pools; followers only report in. Everything it says
 * goes to its journal as JSON lines with the page's messages.
 */
import { Redis } from 'ioredis';
import type { ProcessContext, ServiceProcess } from '../app-runtime/service-units';
import type { ServiceLogWriter } from '../observability';
import type { OrchestratorHttp } from './http-api';
import type { Connections, JobCounters, JobRunner } from './job-runner';
import { jsonLine, type LogLevel } from './json-log';
import { openLockSession, type LockSession } from './leader-lock';
import type { WorkerPools } from './pools';
import { openSql, type Sql, type SqlBackend } from './sql';
import { OrchestratorStore } from './store';
import { autoclaim, ensureGroup, readNew, touch, type StreamEntry } from './streams';

export interface ReplicaTimings {
  /** Wall ms between election rounds (the page: 2 s). */
  electionIntervalMs: number;
  /** Wall ms between the leader's consumption passes. */
  tickMs: number;
  /** Wall ms an entry must sit pending before XAUTOCLAIM takes it over. */
  claimIdleMs: number;
}

/** What a replica needs from the lab around it. */
export interface ReplicaEnv {
  nodeId: string;
  redisUrl: string;
  db: SqlBackend;
  lockName: string;
  timings: ReplicaTimings;
  pools: WorkerPools;
  runner: JobRunner;
  /** The version in the host's config at process start. */
  version(): string;
  /** The host is cut off from the database and Redis (fault). */
  partitioned(): boolean;
  /** A lock session the process lost hold of but the server still keeps (partition, death without FIN). */
  leak(session: LockSession): void;
  /** The API server of this host: bound while the process runs. */
  http: OrchestratorHttp;
  counters: JobCounters;
  /** The lab's central logs (Loki): each line is shipped there too. */
  logs?: ServiceLogWriter;
}

export interface ReplicaView {
  replicaId: string;
  nodeId: string;
  pid: number;
  version: string;
  isLeader: boolean;
  term: number;
  lockSessionId: number | null;
  store: OrchestratorStore | null;
  redis: Redis | null;
  ready: boolean;
  counters: { elections: number; electionFailures: number };
}

/** One id per process (host and PID): its heartbeat row and its consumer name, so a dead process's row stays findable. */
export const replicaId = (nodeId: string, pid: number) => `orchestrator-${nodeId}-${pid}`;

class PartitionError extends Error {
  constructor() {
    super('connect ETIMEDOUT');
  }
}

/** A running replica: created by the unit on every start, gone at exit. */
export class ReplicaProcess implements ReplicaView {
  replicaId = '';
  readonly nodeId: string;
  pid = 0;
  version = '';
  isLeader = false;
  term = 0;
  ready = false;
  store: OrchestratorStore | null = null;
  redis: Redis | null = null;
  counters = { elections: 0, electionFailures: 0 };
  /** On exit, keep the lock session open instead of closing it (the stale-lock fault: a death the server never hears of). */
  leakOnExit = false;
  private ctx: ProcessContext | null = null;
  private sql: Sql | null = null;
  private lock: LockSession | null = null;
  private timers: NodeJS.Timeout[] = [];
  private ticking = false;
  /** Entries the leader reclaimed (they are in its PEL) that waited for a worker of their model; lost with the process or the leadership, reclaimed again by the next leader. */
  private readonly reclaimed = new Map<string, StreamEntry>();
  private startedAt = new Date();
  private lastError = '';

  constructor(private readonly env: ReplicaEnv) {
    this.nodeId = env.nodeId;
  }

  get lockSessionId(): number | null {
    return this.lock?.sessionId ?? null;
  }

  behaviour(): ServiceProcess {
    return {
      run: (ctx) => this.run(ctx),
      stopping: () => this.shutdown(),
      ended: () => this.ended(),
    };
  }

  log(level: LogLevel, msg: string, fields: object = {}): void {
    if (!this.ctx) return;
    const logger = level === 'error' || msg.startsWith('Leader') ? 'leader' : 'engine';
    this.ctx.log(jsonLine(level, logger, msg, { replica: this.replicaId, ...fields }));
    this.env.logs?.({
      ...(fields as Record<string, string | number | boolean>),
      level: level === 'warning' ? 'warn' : level,
      msg,
      component: logger,
      node_id: this.nodeId,
    });
  }

  private get alive(): boolean {
    return this.ctx !== null;
  }

  private run(ctx: ProcessContext): void {
    this.ctx = ctx;
    this.pid = ctx.pid;
    this.replicaId = replicaId(this.nodeId, ctx.pid);
    this.version = this.env.version();
    this.startedAt = new Date();
    this.log('info', 'gpu-orchestrator starting', { version: this.version, pid: ctx.pid, node_id: this.nodeId });
    void this.env.http.bind(this).catch((err: Error) => this.log('error', 'API server failed to start', { error: err.message }));
    this.sql = openSql(this.env.db, `gpu-orchestrator ${this.nodeId} pid=${ctx.pid}`, 3);
    this.store = new OrchestratorStore(this.sql);
    this.redis = new Redis(this.env.redisUrl, {
      connectionName: `gpu-orchestrator:${this.replicaId}`,
      maxRetriesPerRequest: 1,
      retryStrategy: (n) => Math.min(n * 50, 1000),
    });
    this.redis.on('error', () => undefined);
    void ensureGroup(this.redis)
      .then(() => {
        this.ready = true;
      })
      .catch((err: Error) => this.log('error', 'Redis unavailable', { error: err.message }));
    // A fresh process waits one round before it competes: a restarted old leader does not race the survivors.
    this.every(this.env.timings.electionIntervalMs, () => this.electionRound(), ctx.resumed ? 0 : this.env.timings.electionIntervalMs);
  }

  /** SIGTERM: give the lock back before exiting, so a follower takes over at its next round. */
  private shutdown(): void {
    this.log('info', 'received SIGTERM, shutting down', { leader: this.isLeader });
    const lock = this.lock;
    if (lock && this.isLeader && !this.env.partitioned()) {
      this.lock = null;
      void lock
        .release()
        .catch(() => undefined)
        .finally(() => lock.destroy());
    }
  }

  private ended(): void {
    this.ctx = null;
    this.isLeader = false;
    this.reclaimed.clear();
    this.ready = false;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.env.http.unbind(this);
    const lock = this.lock;
    this.lock = null;
    if (lock) {
      if (this.leakOnExit || this.env.partitioned()) this.env.leak(lock);
      else lock.destroy();
    }
    this.redis?.disconnect();
    void this.sql?.close().catch(() => undefined);
  }

  /** Runs fn now-ish and then every ms, never overlapping itself, while the process lives. */
  private every(ms: number, fn: () => Promise<void>, firstMs = 0): void {
    const loop = async () => {
      if (!this.alive) return;
      await fn().catch((err: Error) => this.log('error', 'internal error', { error: err.message }));
      if (this.alive) this.timers.push(setTimeout(() => void loop(), ms));
    };
    this.timers.push(setTimeout(() => void loop(), firstMs));
  }

  private guard(): void {
    if (this.env.partitioned()) throw new PartitionError();
  }

  private async electionRound(): Promise<void> {
    try {
      this.guard();
      if (!this.lock) {
        const lock = await openLockSession(this.env.db, this.env.lockName, `gpu-orchestrator ${this.nodeId} pid=${this.pid} lock`);
        if (!this.alive) return lock.destroy();
        lock.onLost((err) => this.lockLost(lock, err));
        this.lock = lock;
      }
      if (this.isLeader) {
        if ((await this.lock.holder()) !== this.lock.sessionId) this.stepDown('Leader lock lost');
      } else if (await this.lock.tryAcquire()) {
        await this.becomeLeader();
      }
      await this.store!.heartbeat({
        replica_id: this.replicaId,
        node_id: this.nodeId,
        pid: this.pid,
        version: this.version,
        is_leader: this.isLeader ? 1 : 0,
        lock_session_id: this.lock?.sessionId ?? null,
        started_at: this.startedAt,
        heartbeat_at: new Date(),
      });
      this.lastError = '';
    } catch (err) {
      if (!this.alive) return;
      this.counters.electionFailures++;
      const message = (err as Error).message;
      if (this.isLeader) {
        this.log('error', 'Leader DB connection lost', { error: message });
        this.stepDown('database unreachable');
      }
      // Once per distinct error, as a real service would not flood its log every 2 s.
      if (message !== this.lastError) this.log('error', 'Failed to acquire leader lock', { lock: this.env.lockName, error: message });
      this.lastError = message;
      this.dropLock();
    }
  }

  /** The process cannot use its lock session any more: while partitioned the server keeps it (leaked), else it is closed. */
  private dropLock(): void {
    const lock = this.lock;
    this.lock = null;
    if (!lock) return;
    if (this.env.partitioned()) this.env.leak(lock);
    else lock.destroy();
  }

  private lockLost(lock: LockSession, err: Error): void {
    if (this.lock !== lock || !this.alive) return;
    this.lock = null;
    if (this.isLeader) {
      this.log('error', 'Leader DB connection lost', { error: err.message, lock_session_id: lock.sessionId });
      this.stepDown('lock session lost');
    }
  }

  private async becomeLeader(): Promise<void> {
    this.isLeader = true;
    this.term++;
    this.counters.elections++;
    this.log('info', 'Leader elected', { lock: this.env.lockName, lock_session_id: this.lock?.sessionId, term: this.term });
    await this.rehydrate();
    this.every(this.env.timings.tickMs, () => this.leaderPass());
  }

  private stepDown(reason: string): void {
    if (!this.isLeader) return;
    this.isLeader = false;
    this.reclaimed.clear();
    this.log('warning', 'Leader stepping down', { reason });
  }

  /** The new leader makes the pools what worker_pools says: a running pool with no live worker is started again. */
  private async rehydrate(): Promise<void> {
    for (const row of await this.store!.pools()) {
      if (row.status !== 'running') continue;
      const pool = this.env.pools.get(row.pool_id);
      if (pool?.status === 'running') continue;
      this.env.pools.start({ id: row.pool_id, nodeId: row.node_id, model: row.model, workers: row.workers });
      this.log('info', 'Pool rehydrated', { pool_id: row.pool_id, node_id: row.node_id, workers: row.workers });
    }
  }

  private connections(): Connections & { replicaId: string; log: ReplicaProcess['log'] } {
    return { store: this.store!, redis: this.redis!, replicaId: this.replicaId, log: (l, m, f) => this.log(l, m, f) };
  }

  private async leaderPass(): Promise<void> {
    if (!this.isLeader || this.ticking || !this.ready || this.env.partitioned()) return;
    this.ticking = true;
    try {
      const c = this.connections();
      await this.reconcilePools();
      await this.env.runner.reap(c);
      const consumer = this.replicaId;
      // Reclaimed entries no worker could take yet go first, as soon as one is free (claimed again they would wait another idle time).
      for (const e of [...this.reclaimed.values()]) {
        if (!this.isLeader) return;
        if (!this.env.pools.idleWorkers().some((s) => s.pool.model === (e.fields.model ?? ''))) continue;
        this.reclaimed.delete(e.id);
        // Its idle time starts over as it is handed out, so a later reclaim does not take it while (or just after) a worker runs it.
        if (!(await touch(this.redis!, consumer, e.id))) continue;
        if ((await this.env.runner.handle(e, c)) === 'no_worker') this.reclaimed.set(e.id, e);
      }
      // No more than it has idle workers for.
      const free = this.env.pools.idleWorkers().length;
      for (const e of free ? await autoclaim(this.redis!, consumer, this.env.timings.claimIdleMs, free) : []) {
        if (!this.isLeader) return;
        if (this.reclaimed.has(e.id)) continue;
        if ((await this.env.runner.handle(e, c)) === 'no_worker') this.reclaimed.set(e.id, e);
      }
      if ((await this.store!.maintenance()) === 'drain') return;
      const idle = this.env.pools.idleWorkers().length;
      if (idle === 0 || !this.isLeader) return;
      for (const e of await readNew(this.redis!, consumer, idle)) await this.env.runner.handle(e, c);
    } finally {
      this.ticking = false;
    }
  }

  /** worker_pools follows the pools: a pool whose workers are all gone is stopped; an eviction when nobody asked it to stop. */
  private async reconcilePools(): Promise<void> {
    for (const row of await this.store!.pools()) {
      if (row.status === 'stopped') continue;
      const pool = this.env.pools.get(row.pool_id);
      if (pool && pool.status !== 'stopped') continue;
      await this.store!.setPoolStatus(row.pool_id, 'stopped');
      const evicted = row.status === 'running';
      if (evicted) this.env.counters.evictions++;
      this.log(evicted ? 'warning' : 'info', evicted ? 'Pool eviction' : 'Pool stopped', { pool_id: row.pool_id, node_id: row.node_id });
    }
  }
}
