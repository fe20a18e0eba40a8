/**
 * Who leads, as the orchestrator's API says (GET /status/leader from any replica,
 * GET /health from each), waits for a leader, and the check that a new leader
 * rehydrated the pools (GET /pools against the worker_pools rows). Reads only.
 */
import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { REPLICA_SQL } from './commands';
import { clusterNamed } from './orchestrator-activities';
import { OrchestratorApi, type LeaderStatus, type OrchestratorPool, type ReplicaHealth } from './orchestrator-api';
import { withOrchestratorDb } from './orchestrator-db';

export interface LeaderView {
  cluster: string;
  lock_name: string;
  /** false: no replica answered GET /status/leader (all down or cut off). */
  answered: boolean;
  /** The replica that holds the lock and keeps reporting in; null: nobody leads. */
  leader: LeaderStatus['leader'];
  lock: LeaderStatus['lock'] | null;
  replicas: LeaderStatus['replicas'];
  health: { node_id: string; health: ReplicaHealth | null }[];
}

export interface PoolCheck {
  rehydrated: boolean;
  /** worker_pools rows with status running. */
  rows: { pool_id: string; node_id: string; workers: number }[];
  pools: Pick<OrchestratorPool, 'pool_id' | 'status' | 'worker_pids'>[];
  /** Running rows GET /pools does not show running with all their workers. */
  missing: string[];
}

/** A poll's call to one replica: short, so a wait keeps heartbeating past a replica that does not answer. */
const POLL_CALL_TIMEOUT_MS = 2_000;

export function createLeaderStatusActivities(deps: { clusters: readonly OrchestratorCluster[] }) {
  const cluster = (name: string | undefined) => clusterNamed(deps.clusters, name);

  /** `onProgress` between the calls: a wait heartbeats while a blackholed replica times out. */
  async function view(c: OrchestratorCluster, timeoutMs?: number, onProgress: () => void = () => undefined): Promise<LeaderView> {
    const api = new OrchestratorApi(c, timeoutMs);
    const health = await Promise.all(c.replicas.map(async (r) => ({ node_id: r.node_id, health: await api.health(r.node_id) })));
    onProgress();
    try {
      const s = await api.leaderStatus();
      // The lock's holder leads only if it also answers for itself: a heartbeat a moment old
      // can belong to a process that has just died (the status endpoint trusts it for 3 rounds).
      const own = s.leader ? health.find((h) => h.node_id === s.leader!.node_id)?.health : null;
      const leader = s.leader && own?.leader === true && own.replica === s.leader.replica_id ? s.leader : null;
      return { cluster: c.name, lock_name: c.lock_name, answered: true, leader, lock: s.lock, replicas: s.replicas, health };
    } catch (err) {
      // No replica answering is what a dead orchestrator looks like: an answer, not an outage to wait out.
      if (!(err instanceof ApplicationFailure) || err.type !== ErrorType.OrchestratorApiError || err.nonRetryable) throw err;
      return { cluster: c.name, lock_name: c.lock_name, answered: false, leader: null, lock: null, replicas: [], health };
    }
  }

  async function pools(c: OrchestratorCluster): Promise<PoolCheck> {
    const rows = await withOrchestratorDb(c, 'reading worker_pools', (db) => db.query(REPLICA_SQL.runningPools, []));
    const served = await new OrchestratorApi(c).pools();
    const wanted = rows.map((r) => ({ pool_id: String(r.pool_id), node_id: String(r.node_id), workers: Number(r.workers) }));
    const missing = wanted
      .filter((w) => {
        const p = served.find((x) => x.pool_id === w.pool_id);
        return !p || p.status !== 'running' || p.worker_pids.length !== w.workers;
      })
      .map((w) => w.pool_id);
    return {
      rehydrated: missing.length === 0,
      rows: wanted,
      pools: served.map((p) => ({ pool_id: p.pool_id, status: p.status, worker_pids: p.worker_pids })),
      missing,
    };
  }

  return {
    async readLeaderStatus(_ctx: StepContext, clusterName: string | undefined): Promise<LeaderView> {
      return view(cluster(clusterName));
    },

    /** Polls until a replica leads (other than `notReplica`, when given) or the timeout; returns the last look. */
    async waitForLeader(_ctx: StepContext, clusterName: string | undefined, timeoutMs: number, pollMs: number, notReplica?: string): Promise<LeaderView> {
      const c = cluster(clusterName);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await view(c, POLL_CALL_TIMEOUT_MS, () => heartbeat());
        heartbeat({ leader: v.leader?.replica_id ?? null });
        if ((v.leader && v.leader.replica_id !== notReplica) || Date.now() >= deadline) return v;
        await sleep(pollMs);
      }
    },

    /** Polls until every running worker_pools row shows in GET /pools, running with all its workers, or the timeout. */
    async waitForPoolsRehydrated(_ctx: StepContext, clusterName: string | undefined, timeoutMs: number, pollMs: number): Promise<PoolCheck> {
      const c = cluster(clusterName);
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const check = await pools(c);
        heartbeat({ missing: check.missing });
        if (check.rehydrated || Date.now() >= deadline) return check;
        await sleep(pollMs);
      }
    },
  };
}

export type LeaderStatusActivities = ReturnType<typeof createLeaderStatusActivities>;
