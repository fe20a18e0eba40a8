import { heartbeat, sleep } from '@temporalio/activity';
import type { Logger } from 'pino';
import { ORCHESTRATOR_GROUP, ORCHESTRATOR_STREAM, type OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { stepLogger } from '../observability';
import { withRedis } from './redis-connection';
import { clusterNamed } from './orchestrator-activities';
import { OrchestratorApi, type OrchestratorPool } from './orchestrator-api';

export interface DrainWait {
  drained: boolean;
  /** XPENDING's count at the last poll: delivered, not yet acknowledged. */
  pending: number;
  /** Rows in orchestrator_leases at the last poll (GET /leases). */
  leases: number;
  waited_ms: number;
}

export interface PoolsStoppedWait {
  stopped: boolean;
  /** Pools GET /pools still lists as not stopped. */
  remaining: { pool_id: string; status: string }[];
  waited_ms: number;
}

export interface PoolRunningWait {
  running: boolean;
  pool: OrchestratorPool | null;
  waited_ms: number;
}

/** Polls `probe` every pollMs until it says done or timeoutMs passed; heartbeats every poll. */
async function poll<T>(
  timeoutMs: number,
  pollMs: number,
  probe: () => Promise<{ done: boolean; value: T }>,
): Promise<{ done: boolean; value: T; waited_ms: number }> {
  const started = Date.now();
  for (;;) {
    const { done, value } = await probe();
    const waited = Date.now() - started;
    heartbeat({ waited_ms: waited });
    if (done || waited >= timeoutMs) return { done, value, waited_ms: waited };
    await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
  }
}

/**
 * The drain half of a rolling upgrade (seed 004's safe-drain playbook): waits
 * for in-flight work to finish while the orchestrator is in maintenance mode
 * (which stops the leader reading new entries; the group's position is never
 * touched), stops every pool, and brings pools back one at a time.
 */
export function createDrainActivities(deps: { clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  const api = (name: string | undefined) => new OrchestratorApi(clusterNamed(deps.clusters, name));
  return {
    /** Until nothing is pending in the group (XPENDING) and no lease is held (GET /leases), or the timeout. */
    async waitDrained(_ctx: StepContext, cluster: string | undefined, timeoutMs: number, pollMs: number): Promise<DrainWait> {
      const orch = api(cluster);
      const r = await withRedis(orch.cluster.redis_url, (redis) =>
        poll(timeoutMs, pollMs, async () => {
          const summary = (await redis.call('XPENDING', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)) as unknown[];
          const pending = Number(summary[0] ?? 0);
          const leases = (await orch.leases()).length;
          return { done: pending === 0 && leases === 0, value: { pending, leases } };
        }),
      );
      return { drained: r.done, ...r.value, waited_ms: r.waited_ms };
    },

    /** POST /pools/stop-all on the leader: SIGTERM to every worker, each finishing the job in hand. */
    async stopAllPools(ctx: StepContext, cluster: string | undefined): Promise<{ stopping: string[] }> {
      const res = await api(cluster).stopAllPools(ctx.idempotency_key);
      stepLogger(deps.logger, ctx).info({ stopping: res.stopping }, 'all pools asked to stop');
      return res;
    },

    /** Until GET /pools lists no pool that is not stopped, or the timeout. */
    async waitPoolsStopped(_ctx: StepContext, cluster: string | undefined, timeoutMs: number, pollMs: number): Promise<PoolsStoppedWait> {
      const orch = api(cluster);
      const r = await poll(timeoutMs, pollMs, async () => {
        const remaining = (await orch.pools()).filter((p) => p.status !== 'stopped').map((p) => ({ pool_id: p.pool_id, status: p.status }));
        return { done: remaining.length === 0, value: remaining };
      });
      return { stopped: r.done, remaining: r.value, waited_ms: r.waited_ms };
    },

    /** Until GET /pools shows the pool running with `workers` live worker processes, or the timeout. */
    async waitPoolRunning(
      _ctx: StepContext,
      cluster: string | undefined,
      poolId: string,
      workers: number,
      timeoutMs: number,
      pollMs: number,
    ): Promise<PoolRunningWait> {
      const orch = api(cluster);
      const r = await poll(timeoutMs, pollMs, async () => {
        const pool = (await orch.pools()).find((p) => p.pool_id === poolId) ?? null;
        return { done: pool !== null && pool.status === 'running' && pool.worker_pids.length === workers, value: pool };
      });
      return { running: r.done, pool: r.value, waited_ms: r.waited_ms };
    },
  };
}

export type DrainActivities = ReturnType<typeof createDrainActivities>;
