import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { NodeIdSchema } from '../../domain/inventory';
import { ClusterNameSchema, PoolIdSchema } from '../../domain/orchestrator';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_POOL_FORCE_EVICT = 'pool-force-evict';

export const PoolEvictInputSchema = z
  .object({
    /** The orchestrator cluster (default: the only one configured). */
    cluster: ClusterNameSchema.optional(),
    /** The pool to evict; or `emergency_oom` to pick pools by GPU memory. */
    pool_id: PoolIdSchema.optional(),
    /** The emergency-OOM entry: evict pools, largest GPU memory first, until every GPU is under the threshold. */
    emergency_oom: z
      .object({
        threshold_pct: z.number().min(1).max(100).default(90),
        /** Only GPUs of this host (default: every host the orchestrator's pools run on). */
        node_id: NodeIdSchema.optional(),
        /** At most this many pools are evicted before the run asks a person. */
        max_pools: z.number().int().min(1).max(50).default(4),
      })
      .strict()
      .optional(),
    reason: safeText(300).default('runaway worker pool'),
    /** How long the graceful stop through the API may take before signals (the page's 30 s). */
    grace_period: boundedDuration('30s', '100ms', '30m'),
    /** After SIGTERM, before SIGKILL. */
    term_wait: boundedDuration('30s', '100ms', '30m'),
    /** After SIGKILL, before the run calls the processes stuck (D state) and escalates. */
    kill_wait: boundedDuration('10s', '100ms', '10m'),
    /** How long the leader may take to release the pool's leases once its workers are gone. */
    lease_wait: boundedDuration('1m', '100ms', '30m'),
    approval_timeout: boundedDuration('30m', '1s', '24h'),
    poll_interval: boundedDuration('1s', '20ms', '1m'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
  })
  .strict()
  .refine((i) => (i.pool_id === undefined) !== (i.emergency_oom === undefined), {
    message: 'give exactly one of pool_id (evict that pool) or emergency_oom (evict by GPU memory)',
    path: ['pool_id'],
  });
export type PoolEvictRequest = z.input<typeof PoolEvictInputSchema>;
export type PoolEvictInput = z.output<typeof PoolEvictInputSchema> & { correlation_id: string };

export const POOL_EVICT_OUTCOMES = [
  'evicted',
  'already_stopped',
  'memory_relieved',
  'below_threshold',
  'kill_declined',
  'escalated',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface PoolEvictRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const poolEvictRequestSignal = defineSignal<[PoolEvictRequestSignal]>('poolEvictRequest');

/** `pool-evict/<pool_id>`, or `pool-evict/oom/<cluster>` for the emergency entry (one at a time per cluster). */
export function poolEvictWorkflowId(input: { pool_id?: string; cluster?: string }): string {
  return input.pool_id !== undefined ? `pool-evict/${input.pool_id}` : `pool-evict/oom/${input.cluster ?? 'default'}`;
}
