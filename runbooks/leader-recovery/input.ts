import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { ClusterNameSchema } from '../../domain/orchestrator';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_LEADER_RECOVERY = 'leader-recovery';

export const LeaderRecoveryInputSchema = z
  .object({
    /** The orchestrator cluster (ORCHESTRATOR_CLUSTERS_FILE) whose leader is suspected dead. */
    cluster: ClusterNameSchema,
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    /** How long the replicas get to elect on their own (the page: a round every 2 s) before anything is changed. */
    election_grace: boundedDuration('10s', '100ms', '10m'),
    /** How long a restarted replica, or the replicas after the lock is freed, get to elect a leader. */
    takeover_timeout: boundedDuration('30s', '100ms', '10m'),
    /** How long the holder's session must have been idle, by the database's own account, before its lock counts as stale. */
    min_idle: boundedDuration('60s', '1s', '1h'),
    /** How far back the replicas' journals and dead leaders' heartbeat rows are read. */
    lookback: boundedDuration('15m', '1s', '24h'),
    /** How long the two approvers have to decide on freeing the lock. */
    approval_timeout: boundedDuration('30m', '1s', '24h'),
    poll_interval: boundedDuration('1s', '50ms', '1m'),
  })
  .strict();
export type LeaderRecoveryRequest = z.input<typeof LeaderRecoveryInputSchema>;
export type LeaderRecoveryInput = z.output<typeof LeaderRecoveryInputSchema> & { correlation_id: string };

export const LEADER_RECOVERY_OUTCOMES = [
  'leader_healthy',
  'recovered_automatically',
  'recovered_by_restart',
  'recovered_lock_freed',
  'lock_held_by_live_leader',
  'escalated',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface LeaderRecoveryRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const leaderRecoveryRequestSignal = defineSignal<[LeaderRecoveryRequestSignal]>('leaderRecoveryRequest');

export function leaderRecoveryWorkflowId(cluster: string): string {
  return `leader-recovery/${cluster}`;
}
