/**
 * The orchestrator's HTTP API as the page names it, served by the replica on
 * each host while its process runs (a stopped or killed process refuses
 * connections, like the real one). Reads come from SQL and Redis, so every
 * replica answers them; changes to pools go through the leader only (409
 * not_leader with the leader's id elsewhere). The port stays the same across
 * restarts of the process.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { JobCounters } from './job-runner';
import { lockHolder } from './leader-lock';
import { exposition, type Metric } from './metrics';
import type { WorkerPools } from './pools';
import type { ReplicaView } from './replica';
import type { MaintenanceMode } from './store';
import type { OrchestratorHttpMutationKind } from './mutation-kinds';
import { DLQ, length, pendingCount, STREAM } from './streams';

export interface HttpDeps {
  nodeId: string;
  bindHost: string;
  lockName: string;
  /** A leader whose heartbeat is older than this is not reported as leader (wall ms). */
  staleAfterMs: number;
  pools: WorkerPools;
  counters: JobCounters;
  /** GPU memory use per GPU host and GPU, in percent of the GPU's memory (NVML's view). */
  gpuMemory(): { node_id: string; gpu: number; pct: number }[];
  partitioned(): boolean;
  /** Where changes through the API are recorded (the lab's records), with the caller's Idempotency-Key. */
  recordMutation(m: { node_id: string; kind: OrchestratorHttpMutationKind; idempotency_key?: string; detail: Record<string, unknown> }): void;
}

type Reply = { status: number; body: unknown; text?: string };
const json = (status: number, body: unknown): Reply => ({ status, body });
const error = (status: number, code: string, message: string, details: object = {}): Reply => json(status, { error: { code, message, details } });

export class OrchestratorHttp {
  private server: Server | null = null;
  private replica: ReplicaView | null = null;
  private boundPort = 0;

  constructor(private readonly deps: HttpDeps) {}

  get port(): number {
    return this.boundPort;
  }

  /** Picks the port once, before any process runs, so the lab can tell clients the URL at start. */
  async reserve(): Promise<void> {
    if (this.boundPort) return;
    const probe = createServer();
    await new Promise<void>((resolve, reject) => probe.once('error', reject).listen(0, this.deps.bindHost, () => resolve()));
    this.boundPort = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
  }

  /** Listens (again) for a newly started replica process; resolves once bound. */
  bind(replica: ReplicaView): Promise<void> {
    this.replica = replica;
    const server = createServer((req, res) => void this.serve(req, res));
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.boundPort, this.deps.bindHost, () => {
        this.boundPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  /** The process is gone: its socket closes and open connections are cut. */
  unbind(replica: ReplicaView): void {
    if (this.replica !== replica) return;
    this.replica = null;
    const server = this.server;
    this.server = null;
    server?.close();
    server?.closeAllConnections();
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let reply: Reply;
    try {
      const body = await readBody(req);
      reply = await this.route(req.method ?? 'GET', new URL(req.url ?? '/', 'http://x'), body);
      if (req.method === 'POST' && reply.status < 300) this.record(req, reply);
    } catch (err) {
      reply = error(503, 'backend_unavailable', (err as Error).message);
    }
    if (reply.text !== undefined) {
      res.writeHead(reply.status, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(reply.text);
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
  }

  private async route(method: string, url: URL, body: unknown): Promise<Reply> {
    const r = this.replica;
    if (!r) return error(503, 'starting', 'the orchestrator is not running');
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const key = `${method} ${path}`;
    if (key === 'GET /health') return this.health(r);
    if (this.deps.partitioned() || !r.store || !r.redis) return error(503, 'backend_unavailable', 'database or Redis unreachable');
    const store = r.store;
    if (key === 'GET /status/leader') return this.leaderStatus(r);
    if (key === 'GET /pools') {
      const rows = (await store.pools()).filter((p) => p.status !== 'stopped');
      return json(200, {
        pools: rows.map((p) => {
          const live = this.deps.pools.get(p.pool_id);
          const workers = live?.workers.filter((w) => w.alive) ?? [];
          return { ...p, memory_mib: live ? this.deps.pools.memoryMiB(live) : p.memory_mib, worker_pids: workers.map((w) => w.pid) };
        }),
      });
    }
    if (key === 'GET /leases') return json(200, { leases: await store.leases(url.searchParams.get('pool_id') ?? undefined) });
    if (key === 'GET /metrics') return { status: 200, body: null, text: exposition(await this.metrics(r)) };
    if (key === 'POST /control/maintenance') {
      const mode = (body as { mode?: unknown } | null)?.mode;
      if (mode !== 'drain' && mode !== 'normal') return error(400, 'invalid_request', 'mode must be "drain" or "normal"', { mode });
      await store.setMaintenance(mode as MaintenanceMode);
      return json(200, { mode });
    }
    const stop = /^POST \/pools\/([^/]+)\/(stop|start)$/.exec(key);
    if (key === 'POST /pools/stop-all' || stop) {
      if (!r.isLeader) return error(409, 'not_leader', `${r.replicaId} is not the leader`, { leader: await this.leaderId(r) });
      if (key === 'POST /pools/stop-all') {
        const stopped: string[] = [];
        for (const pool of this.deps.pools.list().filter((p) => p.status === 'running')) {
          this.deps.pools.stop(pool);
          await store.setPoolStatus(pool.id, 'stopping');
          stopped.push(pool.id);
        }
        return json(202, { stopping: stopped });
      }
      const poolId = decodeURIComponent(stop![1]!);
      const row = (await store.pools()).find((p) => p.pool_id === poolId);
      if (!row) return error(404, 'pool_not_found', `no pool ${poolId}`);
      if (stop![2] === 'stop') {
        const pool = this.deps.pools.get(poolId);
        if (pool && pool.status !== 'stopped') {
          this.deps.pools.stop(pool);
          await store.setPoolStatus(poolId, 'stopping');
        }
        return json(202, { pool_id: poolId, status: pool?.status === 'stopped' || !pool ? 'stopped' : 'stopping' });
      }
      this.deps.pools.start({ id: row.pool_id, nodeId: row.node_id, model: row.model, workers: row.workers });
      await store.setPoolStatus(poolId, 'running');
      return json(202, { pool_id: poolId, status: 'running' });
    }
    return error(404, 'not_found', `no route ${key}`);
  }

  private record(req: IncomingMessage, reply: Reply): void {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const kind: OrchestratorHttpMutationKind | undefined =
      path === '/control/maintenance'
        ? 'maintenance_mode'
        : path === '/pools/stop-all'
          ? 'pools_stop_all'
          : path.endsWith('/stop')
            ? 'pool_stop'
            : path.endsWith('/start')
              ? 'pool_start'
              : undefined;
    if (!kind) return;
    const key = req.headers['idempotency-key'];
    this.deps.recordMutation({
      node_id: this.deps.nodeId,
      kind,
      idempotency_key: typeof key === 'string' ? key : undefined,
      detail: reply.body as Record<string, unknown>,
    });
  }

  private health(r: ReplicaView): Reply {
    const down = this.deps.partitioned() || !r.ready;
    return json(down ? 503 : 200, {
      status: down ? 'degraded' : 'ok',
      replica: r.replicaId,
      node_id: r.nodeId,
      pid: r.pid,
      version: r.version,
      leader: r.isLeader,
      db: this.deps.partitioned() ? 'unreachable' : 'ok',
      redis: this.deps.partitioned() || !r.ready ? 'unreachable' : 'ok',
    });
  }

  private async leaderId(r: ReplicaView): Promise<string | null> {
    const holder = await lockHolder(r.store!.sql, this.deps.lockName);
    return (await r.store!.replicas()).find((x) => holder !== null && x.lock_session_id === holder)?.replica_id ?? null;
  }

  private async leaderStatus(r: ReplicaView): Promise<Reply> {
    const holder = await lockHolder(r.store!.sql, this.deps.lockName);
    const replicas = await r.store!.replicas();
    const now = Date.now();
    const age = (x: { heartbeat_at: Date }) => now - new Date(x.heartbeat_at).getTime();
    // The lock's holder as the replicas reported it; it leads only while it keeps reporting in.
    const holderRow = replicas.find((x) => holder !== null && x.lock_session_id === holder);
    const leader = holderRow && holderRow.is_leader === 1 && age(holderRow) <= this.deps.staleAfterMs ? holderRow : undefined;
    return json(200, {
      leader: leader
        ? { replica_id: leader.replica_id, node_id: leader.node_id, pid: leader.pid, version: leader.version, heartbeat_age_ms: age(leader) }
        : null,
      self: { replica_id: r.replicaId, node_id: r.nodeId, pid: r.pid, is_leader: r.isLeader, term: r.term, lock_session_id: r.lockSessionId },
      lock: {
        name: this.deps.lockName,
        backend: r.store!.sql.kind,
        holder_session_id: holder,
        holder_replica: holderRow
          ? { replica_id: holderRow.replica_id, node_id: holderRow.node_id, pid: holderRow.pid, heartbeat_age_ms: age(holderRow) }
          : null,
      },
      replicas: replicas.map((x) => ({
        replica_id: x.replica_id,
        node_id: x.node_id,
        pid: x.pid,
        is_leader: x.is_leader === 1,
        lock_session_id: x.lock_session_id,
        heartbeat_age_ms: age(x),
      })),
    });
  }

  private async metrics(r: ReplicaView): Promise<Metric[]> {
    const redis = r.redis!;
    const store = r.store!;
    const pools = this.deps.pools.list();
    const c = this.deps.counters;
    const gauge = (name: string, help: string, samples: Metric['samples']): Metric => ({ name, help, type: 'gauge', samples });
    const counter = (name: string, help: string, value: number): Metric => ({ name, help, type: 'counter', samples: [{ value }] });
    return [
      gauge('gpu_orchestrator_pending_jobs', 'Jobs delivered to the consumer group and not yet acknowledged (XPENDING).', [
        { value: await pendingCount(redis) },
      ]),
      gauge('gpu_orchestrator_stream_length', 'Entries in the job stream (XLEN).', [{ labels: { stream: STREAM }, value: await length(redis, STREAM) }]),
      gauge('gpu_orchestrator_dlq_length', 'Entries in the dead-letter stream (XLEN).', [{ labels: { stream: DLQ }, value: await length(redis, DLQ) }]),
      gauge('gpu_orchestrator_active_leases', 'Rows in orchestrator_leases.', [{ value: (await store.leases()).length }]),
      gauge('gpu_orchestrator_worker_pools', 'Worker pools by status.', [
        { labels: { status: 'running' }, value: pools.filter((p) => p.status === 'running').length },
        { labels: { status: 'stopping' }, value: pools.filter((p) => p.status === 'stopping').length },
      ]),
      gauge(
        'gpu_orchestrator_worker_pool_memory_bytes',
        'Resident memory of a pool, all its workers together.',
        pools
          .filter((p) => p.status !== 'stopped')
          .map((p) => ({ labels: { pool_id: p.id, node_id: p.nodeId }, value: this.deps.pools.memoryMiB(p) * 1048576 })),
      ),
      gauge(
        'gpu_orchestrator_worker_pool_workers',
        'Live worker processes of a pool.',
        pools.filter((p) => p.status !== 'stopped').map((p) => ({ labels: { pool_id: p.id }, value: p.workers.filter((w) => w.alive).length })),
      ),
      gauge(
        'gpu_orchestrator_nvml_mem_util_pct',
        'GPU memory in use, percent of the GPU (NVML).',
        this.deps.gpuMemory().map((g) => ({ labels: { node_id: g.node_id, gpu: String(g.gpu) }, value: g.pct })),
      ),
      gauge('gpu_orchestrator_leader', '1 when this replica holds the leader lock.', [{ labels: { replica: r.replicaId }, value: r.isLeader ? 1 : 0 }]),
      gauge('gpu_orchestrator_maintenance_mode', '1 while the orchestrator is in drain.', [{ value: (await store.maintenance()) === 'drain' ? 1 : 0 }]),
      counter('gpu_orchestrator_leader_elections_total', 'Times this replica became leader.', r.counters.elections),
      counter('gpu_orchestrator_leader_election_failures_total', 'Election rounds that failed on a database error.', r.counters.electionFailures),
      counter('gpu_orchestrator_jobs_processed_total', 'Jobs completed.', c.processed),
      counter('gpu_orchestrator_job_retries_total', 'Jobs handed out again after a failed attempt.', c.retries),
      counter('gpu_orchestrator_jobs_dead_lettered_total', 'Jobs sent to the dead-letter stream.', c.deadLettered),
      counter('gpu_orchestrator_worker_pool_evictions_total', 'Pools that lost all their workers without being asked to stop.', c.evictions),
    ];
  }
}

async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return null;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return null;
  }
}
