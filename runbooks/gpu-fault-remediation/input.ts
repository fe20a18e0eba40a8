import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { NodeIdSchema } from '../../domain/inventory';
import { PLAN_OUTCOMES, PlanHashSchema } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_GPU_FAULT = 'gpu-fault-remediation';

/** Recommended actions, least to most disruptive. The most severe finding decides. */
export const FAULT_ACTIONS = ['none', 'restart_app', 'drain_and_diagnose', 'reset_gpu', 'reboot_node', 'rma_candidate'] as const;
export type FaultAction = (typeof FAULT_ACTIONS)[number];

export const GpuFaultInputSchema = z
  .object({
    node_id: NodeIdSchema,
    gpu_index: z.number().int().min(0).max(63).optional(),
    xid: z.number().int().min(1).max(999).optional(),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    drain_timeout: boundedDuration('30m', '1s', '7d'),
    approval_timeout: boundedDuration('4h', '1s', '30d'),
    reboot_timeout: boundedDuration('15m', '1s', '2h'),
    poll_interval: boundedDuration('10s', '50ms', '10m'),
    diag_level: z.number().int().min(1).max(4).default(2),
    /** Notify this group's webhook (ESCALATION_WEBHOOKS) when an approval is still open after `after`. */
    approval_escalation: z
      .object({
        after: boundedDuration('30m', '1s', '30d'),
        group: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'a group is lower-case letters, digits, - and _'),
      })
      .strict()
      .optional(),
    /** A live run started from a plan: it refuses, with a diff, when the plan it makes now differs. */
    plan_hash: PlanHashSchema.optional(),
  })
  .strict();
/** Input as a caller sends it (durations may be strings). */
export type GpuFaultRequest = z.input<typeof GpuFaultInputSchema>;
/** Input after validation: defaults applied, durations in milliseconds. */
export type GpuFaultInput = z.output<typeof GpuFaultInputSchema> & { correlation_id: string };

export const GPU_FAULT_OUTCOMES = [
  'no_fault_found',
  'no_action_required',
  'returned_to_service',
  /** Remediated and diag passed, but someone else holds the node out of service (their cordon, an open RMA). */
  'remediated_left_cordoned',
  'rma_opened',
  'held_for_operator',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;
export type GpuFaultOutcome = (typeof GPU_FAULT_OUTCOMES)[number];

/** An alert for a node, delivered as workflow input or as a signal to the open run. */
export interface GpuAlert {
  xid?: number;
  gpu_index?: number;
  source: string;
  correlation_id: string;
  received_at: string;
}

/** A trigger with new information for the open run of the same node. */
export const gpuAlertSignal = defineSignal<[GpuAlert]>('gpuAlert');

export function gpuFaultWorkflowId(nodeId: string): string {
  return `gpu-fault/${nodeId}`;
}

/** RMA path runs diag at least at this level. */
export const RMA_MIN_DIAG_LEVEL = 3;
/** Remediations of one node in this window before an operator must approve another. */
export const REPEAT_REMEDIATION_WINDOW_DAYS = 7;
export const REPEAT_REMEDIATION_LIMIT = 2;
