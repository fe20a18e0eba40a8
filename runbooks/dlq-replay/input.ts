import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { DlqStreamPattern } from '../../domain/dlq';
import { boundedDuration } from '../../domain/durations';
import { ClusterNameSchema, ORCHESTRATOR_DLQ } from '../../domain/orchestrator';
import { PLAN_OUTCOMES, PlanHashSchema } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_DLQ_REPLAY = 'dlq-replay';

export const DlqReplayInputSchema = z
  .object({
    /** The orchestrator cluster; the only one configured when omitted. */
    cluster: ClusterNameSchema.optional(),
    /** The dead-letter stream; its entries go back to the stream of the same name without `:dlq`. */
    dlq_stream: z.string().regex(DlqStreamPattern, 'a stream name ending in :dlq').default(ORCHESTRATOR_DLQ),
    /** How many DLQ entries the pre-checks read and group by cause. */
    sample_size: z.number().int().min(1).max(1000).default(50),
    /** How many entries this run replays after the canary (the rest is a later run's). */
    batch_size: z.number().int().min(0).max(1000).default(100),
    /** Replays per second in the batch. */
    rate_per_second: z.number().positive().max(1000).default(5),
    /** The batch stops replaying once this many replayed entries were dead-lettered again. */
    error_threshold: z.number().int().min(1).max(1000).default(3),
    /** How long a replay may take to be processed (the canary), or the batch may see none settle. */
    settle_timeout: boundedDuration('5m', '1s', '2h'),
    poll_interval: boundedDuration('2s', '50ms', '1m'),
    /** How long a person has to approve replaying causes the run cannot check itself. */
    approval_timeout: boundedDuration('30m', '1s', '24h'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    plan_hash: PlanHashSchema.optional(),
  })
  .strict();
export type DlqReplayRequest = z.input<typeof DlqReplayInputSchema>;
export type DlqReplayInput = z.output<typeof DlqReplayInputSchema> & { correlation_id: string };

export const DLQ_REPLAY_OUTCOMES = [
  'replayed',
  'stopped_at_error_threshold',
  'root_cause_not_fixed',
  'escalated',
  'nothing_to_replay',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface DlqReplayRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const dlqReplayRequestSignal = defineSignal<[DlqReplayRequestSignal]>('dlqReplayRequest');

/** The DLQ stream, encoded, so any stream name is one segment of the id. */
export function dlqReplayWorkflowId(dlqStream: string): string {
  return `dlq-replay/${encodeURIComponent(dlqStream)}`;
}
