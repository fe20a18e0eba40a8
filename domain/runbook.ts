import { z } from 'zod';
import type { ApprovalKind, ApprovalState, ApprovalVote } from './approvals';
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
  kind: ApprovalKind;
  question: string;
  requested_at: string;
  timeout_at: string;
  /** What the approver is signing: the evidence that led here. */
  context: Record<string, unknown>;
  /** The plan the run follows, when it was started from one: the approval is given on that plan. */
  plan_hash?: string;
  /** What approving will disrupt, in one line. */
  disruption?: string;
  /** Distinct approvers needed; `approvals` are those who decided so far. */
  min_approvals: number;
  approvals: ApprovalVote[];
  /** Who may not decide it: the run's requester (two-person rule). */
  forbidden_approvers: string[];
  /** A drill answers its own approvals: the only requester allowed to, and only in a drill run. */
  scripted_answerer?: string;
  /** Hash of what the approver is shown (question, evidence, plan, disruption); each decision records it. */
  shown_hash: string;
  /** Who is notified, and when, if nobody decides in time. */
  escalation?: { group: string; escalate_at: string; notified_at: string | null };
  /** Runs started before the approval rules: one decision by signal, no update. */
  legacy?: true;
}

export const APPROVAL_DECISIONS = ['approve', 'reject'] as const;
export const ApprovalDecisionSchema = z
  .object({
    decision: z.enum(APPROVAL_DECISIONS),
    actor: safeText(200),
    reason: safeText(2000, { multiline: true }),
    /** When set, must match the pending request; stops a stale approval landing on a newer request. */
    approval_id: z.string().min(1).max(200).optional(),
    /** When set, must match the pending request's `shown_hash`: the approver decided on what is pending now. */
    shown_hash: z.string().min(1).max(200).optional(),
  })
  .strict();
export type ApprovalDecision = z.infer<typeof ApprovalDecisionSchema>;

export interface ApprovalRecord extends ApprovalRequest {
  decision: 'approve' | 'reject' | 'timeout';
  /** Who decided (every approver, comma-separated, when it took several). */
  actor?: string;
  reason?: string;
  decided_at: string;
}

/** What the API's approval update answers: the decision recorded and the approval as it now stands. */
export interface ApprovalAnswer {
  approval_id: string;
  decision: 'approve' | 'reject';
  actor: string;
  recorded_at: string;
  state: ApprovalState;
  min_approvals: number;
  approvals: ApprovalVote[];
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
