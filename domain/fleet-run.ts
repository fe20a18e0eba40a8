/**
 * Multi-target runs as pure data and decisions (no I/O): one runbook over a set
 * of nodes, with a concurrency limit and an error threshold in the manner of
 * AWS SSM's MaxConcurrency and MaxErrors: at the threshold, stop dispatching and
 * let the targets in flight finish.
 */
import { defineQuery } from '@temporalio/workflow';
import { z } from 'zod';

export const ErrorThresholdSchema = z
  .object({
    count: z.number().int().min(0).optional(),
    percent: z.number().min(0).max(100).optional(),
  })
  .strict()
  .refine((t) => t.count !== undefined || t.percent !== undefined, 'give count, percent or both');
export type ErrorThreshold = z.infer<typeof ErrorThresholdSchema>;

export interface FleetTarget {
  node_id: string;
  /** The child run's workflow id, as the runbook's definition makes it. */
  workflow_id: string;
  /** The child run's input. */
  input: unknown;
}

export type TargetState = 'pending' | 'running' | 'completed' | 'failed' | 'not_started';

export interface TargetProgress {
  node_id: string;
  workflow_id: string;
  state: TargetState;
  /** The child run's outcome, or the failure type of a failed one. */
  outcome?: string;
}

/** How many failed targets are tolerated: the smaller of the count and the percentage of all targets (rounded down). */
export function errorLimit(threshold: ErrorThreshold, total: number): number {
  return Math.min(threshold.count ?? Infinity, threshold.percent === undefined ? Infinity : Math.floor((total * threshold.percent) / 100));
}

/** True once failures are past the threshold (as SSM's MaxErrors: 3 stops at the fourth): no more targets may start. */
export function thresholdReached(failed: number, threshold: ErrorThreshold, total: number): boolean {
  return failed > errorLimit(threshold, total);
}

export function countByState(progress: readonly TargetProgress[]): Record<TargetState, number> {
  const counts: Record<TargetState, number> = { pending: 0, running: 0, completed: 0, failed: 0, not_started: 0 };
  for (const p of progress) counts[p.state] += 1;
  return counts;
}

export interface FleetRunInput {
  runbook: string;
  /** The runbook's workflow type: every target runs as a child workflow of it. */
  child_workflow_type: string;
  targets: FleetTarget[];
  max_concurrency: number;
  max_errors: ErrorThreshold;
  correlation_id: string;
  /** Who started the fleet run; each target's run records it as its requester. */
  requested_by?: string;
  /** Carried across continue-as-new: where the run stands. */
  progress?: TargetProgress[];
  /** Executions before this one (continue-as-new). */
  generation?: number;
}

export interface FleetRunStatus {
  runbook: string;
  generation: number;
  counts: Record<TargetState, number>;
  stopped_at_threshold: boolean;
  targets: TargetProgress[];
}

export interface FleetRunReport extends FleetRunStatus {
  outcome: 'completed' | 'completed_with_errors' | 'stopped_at_error_threshold';
}

export const fleetStatusQuery = defineQuery<FleetRunStatus>('fleetStatus');
