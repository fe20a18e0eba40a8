import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { ClusterNameSchema } from '../../domain/orchestrator';
import { OrchestratorVersionSchema } from '../../domain/orchestrator-upgrade';
import { PLAN_OUTCOMES, PlanHashSchema } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_ROLLING_UPGRADE = 'drain-and-rolling-upgrade';

const Instant = z.string().datetime({ offset: true });

export const RollingUpgradeInputSchema = z
  .object({
    /** The orchestrator cluster (ORCHESTRATOR_CLUSTERS_FILE, or the lab's `lab`). */
    cluster: ClusterNameSchema,
    /** The release every replica ends on. */
    target_version: OrchestratorVersionSchema,
    /** The maintenance window agreed with stakeholders; the run refuses to start, or to go on after its approval, outside it. */
    window_start: Instant,
    window_end: Instant,
    /** When the last verified dump of the orchestrator's database finished (the operator's backup marker). */
    db_backup_at: Instant,
    /** Older backups (the database's, and Redis's last RDB snapshot when AOF is off) are refused. */
    backup_max_age: boundedDuration('24h', '1m', '30d'),
    /** How long in-flight jobs may take to finish before an approver decides to wait longer or abort. */
    drain_timeout: boundedDuration('15m', '1s', '12h'),
    /** Per replica: the package step, then /health ok with the new version and a leader elected. */
    replica_timeout: boundedDuration('5m', '1s', '2h'),
    /** Per pool: stopped, or back with all its workers. */
    pool_timeout: boundedDuration('5m', '1s', '2h'),
    /** How long the jobs of the window may take to settle once consumption resumed. */
    verify_timeout: boundedDuration('15m', '1s', '12h'),
    approval_timeout: boundedDuration('1h', '1s', '7d'),
    poll_interval: boundedDuration('5s', '50ms', '10m'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    /** A live run started from a plan: it refuses, with a diff, when the plan it makes now differs. */
    plan_hash: PlanHashSchema.optional(),
  })
  .strict();
export type RollingUpgradeRequest = z.input<typeof RollingUpgradeInputSchema>;
export type RollingUpgradeInput = z.output<typeof RollingUpgradeInputSchema> & { correlation_id: string };

export const ROLLING_UPGRADE_OUTCOMES = [
  'upgraded',
  'already_at_version',
  'rolled_back',
  'refused',
  'declined',
  'escalated',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface RollingUpgradeRequestSignal {
  source: string;
  target_version: string;
  correlation_id: string;
  received_at: string;
}
export const rollingUpgradeRequestSignal = defineSignal<[RollingUpgradeRequestSignal]>('rollingUpgradeRequest');

export function rollingUpgradeWorkflowId(cluster: string): string {
  return `rolling-upgrade/${cluster}`;
}
