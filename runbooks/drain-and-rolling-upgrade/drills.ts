import type { DrillScenario } from '../../domain/drills';

/**
 * Seed 004's weekly drill "execute a safe drain/upgrade in staging and confirm no data
 * loss", aimed at a drillable replica host of the lab's cluster. The fault puts the
 * replicas back on the previous release (so every week has something to upgrade) with
 * long jobs running and more queued; the run's own verification is the "no data loss":
 * every job of the window done exactly once, no dead letters, the group never moved back.
 * The window and the backup marker are placeholders filled as each run starts. A staging
 * drill names its cluster, release and real backup marker in the drill's `input`.
 */
export const ROLLING_UPGRADE_DRILLS: readonly DrillScenario[] = [
  {
    name: 'safe-drain-upgrade',
    summary:
      'the replicas on the previous release with long jobs in flight and more queued: drained (jobs in hand finish, nothing new read), upgraded node by node, pools back, every job of the window processed exactly once, no dead letters',
    fault: { path: '/lab/v1/orchestrator/faults/previous-release-with-jobs', body: { from_version: '2.3.1', job_ms: 120_000, queued: 2 } },
    input: {
      cluster: 'lab',
      target_version: '2.4.0',
      window_start: '{now-5m}',
      window_end: '{now+2h}',
      // The drill's declaration: the lab keeps no database backups to point at.
      db_backup_at: '{now-10m}',
      drain_timeout: '10m',
      replica_timeout: '2m',
      pool_timeout: '2m',
      verify_timeout: '15m',
      approval_timeout: '10m',
      poll_interval: '250ms',
    },
    approvals: { approve_upgrade: 'approve' },
    expect: { outcome: 'upgraded' },
  },
];
