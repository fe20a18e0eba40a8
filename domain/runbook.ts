import { z } from 'zod';
import type { HostRole } from './host-roles';
import type { PlanSummary } from './plan';
import { safeText } from './text';

/** Every runbook walks these phases in order; rollback/escalate only on failure. */
export const PHASES = ['trigger', 'pre_checks', 'procedure', 'verify', 'return_to_service', 'rollback', 'escalate', 'done'] as const;
export type Phase = (typeof PHASES)[number];

export const RUN_MODES = ['live', 'plan', 'drill'] as const;
export const RunModeSchema = z.enum(RUN_MODES);
export type RunMode = z.infer<typeof RunModeSchema>;

export type StepStatus = 'running' | 'completed' | 'failed' | 'skipped' | 'compensated' | 'compensation_failed';

/** The memo field naming who asked for a run (the API's authenticated principal, or `drill:<id>`). */
export const MEMO_REQUESTED_BY = 'requested_by';

export interface StepRecord {
  /** Position in the run, 1-based; stable across replays. */
  seq: number;
  name: string;
  phase: Phase;
  status: StepStatus;
  attempt: number;
  started_at: string;
  ended_at?: string;
  error?: { type: string; message: string };
  /** Short, operator-readable result of the step. */
  detail?: string;
}

export interface ApprovalRequest {
  id: string;
  step: string;
  question: string;
  requested_at: string;
  timeout_at: string;
  /** What the approver is signing: the evidence that led here. */
  context: Record<string, unknown>;
  /** The plan the run follows, when it was started from one: the approval is given on that plan. */
  plan_hash?: string;
}

export const APPROVAL_DECISIONS = ['approve', 'reject'] as const;
export const ApprovalDecisionSchema = z
  .object({
    decision: z.enum(APPROVAL_DECISIONS),
    actor: safeText(200),
    reason: safeText(2000, { multiline: true }),
    /** When set, must match the pending request; stops a stale approval landing on a newer request. */
    approval_id: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

export interface ApprovalRecord extends ApprovalRequest {
  decision: 'approve' | 'reject' | 'timeout';
  actor?: string;
  reason?: string;
  decided_at: string;
}

export const CancelRequestSchema = z
  .object({
    actor: safeText(200),
    reason: safeText(2000, { multiline: true }),
  })
  .strict();
export type CancelRequest = z.infer<typeof CancelRequestSchema>;

export interface BlockedOn {
  scope: string;
  cap: number;
  /** Runs holding the scope's slots when this run asked (workflow ids). */
  holders: string[];
  /** Requests ahead of or beside this one. */
  waiting: number;
  since: string;
}

export interface RunStatus {
  runbook: string;
  workflow_id: string;
  run_mode: RunMode;
  correlation_id: string;
  /** Who asked for the run, from its memo; null for runs started outside the API. */
  requested_by: string | null;
  phase: Phase;
  current_step: string | null;
  steps: StepRecord[];
  pending_approval: ApprovalRequest | null;
  approvals: ApprovalRecord[];
  outcome: string | null;
  /** The disruption budget the run waits for, when it cannot take its node out of service yet. */
  blocked_on?: BlockedOn | null;
  /** Plan mode: the plan made; a live run started from a plan: the plan it follows. */
  plan?: PlanSummary | null;
  /** Target of the run, when it acts on one host. */
  target?: { node_id: string; host_name?: string; host_role?: HostRole };
}

export interface RunReport {
  runbook: string;
  workflow_id: string;
  correlation_id: string;
  outcome: string;
  summary: string;
  steps: StepRecord[];
  approvals: ApprovalRecord[];
  evidence_refs: string[];
  plan?: PlanSummary;
  started_at: string;
  ended_at: string;
}
