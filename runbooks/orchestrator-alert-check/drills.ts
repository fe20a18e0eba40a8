import type { DrillScenario } from '../../domain/drills';

/**
 * Seed 004's weekly drill item 5, "validate alerts fire for pending_jobs and lease
 * saturations; confirm on-call receives notification": the lab's job_backlog fault holds
 * every worker on long jobs with a burst of jobs pending for 40 minutes (lab-scaled), longer
 * than both rules' `for:`, then lets the backlog drain.
 */
export const ALERT_CHECK_DRILLS: readonly DrillScenario[] = [
  {
    name: 'alerts-firing',
    summary: 'a backlog of 150 pending jobs with every worker leased: both alerts fire in Prometheus, reach Alertmanager and are notified to on-call',
    fault: { path: '/lab/v1/orchestrator/faults/job-backlog', body: { jobs: 150, hold_ms: 40 * 60_000 } },
    input: { cluster: 'lab', timeout: '60s', poll_interval: '100ms' },
    expect: { outcome: 'alerts_delivered' },
  },
];
