import type { DrillScenario } from '../../domain/drills';

/**
 * Seed 004's weekly drill "simulate leader failure and verify we can succeed in a manual
 * takeover and that worker pools are rehydrated", aimed at a drillable replica host. The
 * scenario names the lab's cluster; a staging cluster's drill names its own.
 */
export const LEADER_RECOVERY_DRILLS: readonly DrillScenario[] = [
  {
    name: 'leader-failure-takeover',
    summary:
      "the leader dies and its database session keeps the lock (the server never heard): no replica can lead; the run restarts a replica, finds the lock stale, the drill approves, the holder's session is ended, a new leader rehydrates the pools",
    fault: { path: '/lab/v1/orchestrator/faults/stale-lock', body: {} },
    input: { cluster: 'lab', election_grace: '5s', takeover_timeout: '15s', min_idle: '3s', poll_interval: '250ms' },
    approvals: { approve_lock_release: 'approve' },
    expect: { outcome: 'recovered_lock_freed' },
  },
];
