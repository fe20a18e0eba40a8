import type { DrillScenario } from '../../domain/drills';

/**
 * Seed 004's weekly drill "force-evict a test pool and confirm the cluster recovers and
 * restarts other pools", on a drillable GPU host: the test pool is the drill's own.
 */
export const POOL_EVICT_DRILLS: readonly DrillScenario[] = [
  {
    name: 'force-evict-test-pool',
    summary:
      'a runaway test pool on the node ignores the graceful stop and SIGTERM: SIGKILL approved, the pool and its leases gone, GPU memory free, every other pool still running',
    fault: { path: '/lab/v1/orchestrator/faults/test-pool', body: { node_id: '{node}', pool_id: 'drill-pool-{node}', runaway: true } },
    input: { pool_id: 'drill-pool-{node}', grace_period: '2s', term_wait: '2s', kill_wait: '10s', poll_interval: '250ms' },
    approvals: { approve_sigkill: 'approve' },
    expect: { outcome: 'evicted' },
  },
];
