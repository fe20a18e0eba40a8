import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import { pickCluster, type OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { stepLogger } from '../observability';
import { OrchestratorApi, type LeaderStatus, type OrchestratorLease, type OrchestratorPool, type ReplicaHealth } from './orchestrator-api';
import type { PromSample } from './prometheus-text';

export interface PoolReleased {
  released: boolean;
  pool_listed: boolean;
  leases: OrchestratorLease[];
  waited_ms: number;
}

/** The orchestrator as one read shows it: who leads, every replica's health, the pools. */
export interface OrchestratorSnapshot {
  cluster: string;
  leader: LeaderStatus['leader'];
  lock: LeaderStatus['lock'];
  replicas: { node_id: string; health: ReplicaHealth | null }[];
  pools: OrchestratorPool[];
}

/**
 * The orchestrator's HTTP API as activities (seed 004's routes). A run names its
 * cluster (`undefined`: the only one configured); an unknown one is a
 * non-retryable InvalidInput. Pool changes carry the step's idempotency key.
 */
export function createOrchestratorActivities(deps: { clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  const api = (name: string | undefined) => new OrchestratorApi(clusterNamed(deps.clusters, name));
  return {
    async readOrchestrator(_ctx: StepContext, cluster: string | undefined): Promise<OrchestratorSnapshot> {
      const orch = api(cluster);
      const replicas = await Promise.all(orch.cluster.replicas.map(async (r) => ({ node_id: r.node_id, health: await orch.health(r.node_id) })));
      const status = await orch.leaderStatus();
      return { cluster: orch.cluster.name, leader: status.leader, lock: status.lock, replicas, pools: await orch.pools() };
    },

    readPools(_ctx: StepContext, cluster: string | undefined): Promise<OrchestratorPool[]> {
      return api(cluster).pools();
    },

    readLeases(_ctx: StepContext, cluster: string | undefined, poolId?: string): Promise<OrchestratorLease[]> {
      return api(cluster).leases(poolId);
    },

    /** The samples of the named metrics (GET /metrics); every sample when `names` is empty. */
    async readMetrics(_ctx: StepContext, cluster: string | undefined, names: string[]): Promise<PromSample[]> {
      const all = await api(cluster).metrics();
      return names.length ? all.filter((s) => names.includes(s.name)) : all;
    },

    /**
     * Polls until GET /pools no longer lists the pool and GET /leases holds none of its
     * leases (the leader reaps a dead worker's), or the timeout; heartbeats every poll.
     */
    async waitPoolReleased(_ctx: StepContext, cluster: string | undefined, poolId: string, timeoutMs: number, pollMs: number): Promise<PoolReleased> {
      const orch = api(cluster);
      const started = Date.now();
      for (;;) {
        const listed = (await orch.pools()).some((p) => p.pool_id === poolId);
        const leases = await orch.leases(poolId);
        const waited = Date.now() - started;
        heartbeat({ listed, leases: leases.length, waited_ms: waited });
        const released = !listed && leases.length === 0;
        if (released || waited >= timeoutMs) return { released, pool_listed: listed, leases, waited_ms: waited };
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },

    async stopPool(ctx: StepContext, cluster: string | undefined, poolId: string): Promise<{ pool_id: string; status: string }> {
      const res = await api(cluster).stopPool(poolId, ctx.idempotency_key);
      stepLogger(deps.logger, ctx).info({ pool_id: poolId, status: res.status }, 'pool stop requested');
      return res;
    },

    async startPool(ctx: StepContext, cluster: string | undefined, poolId: string): Promise<{ pool_id: string; status: string }> {
      const res = await api(cluster).startPool(poolId, ctx.idempotency_key);
      stepLogger(deps.logger, ctx).info({ pool_id: poolId, status: res.status }, 'pool start requested');
      return res;
    },

    async setMaintenance(ctx: StepContext, cluster: string | undefined, mode: 'drain' | 'normal'): Promise<void> {
      await api(cluster).setMaintenance(mode, ctx.idempotency_key);
      stepLogger(deps.logger, ctx).info({ mode }, 'orchestrator maintenance mode set');
    },
  };
}

export type OrchestratorActivities = ReturnType<typeof createOrchestratorActivities>;

/** The configured cluster a run names; a wrong name is the run's input, not worth retrying. */
export function clusterNamed(clusters: readonly OrchestratorCluster[], name: string | undefined): OrchestratorCluster {
  try {
    return pickCluster(clusters, name);
  } catch (err) {
    throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: (err as Error).message, nonRetryable: true });
  }
}
