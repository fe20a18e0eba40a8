/**
 * The API's answers as the CLI reads them. Written from the wire, not imported from
 * domain/: the CLI is a client of the HTTP API and must keep working against an API a
 * version older or newer, so fields the API may not send yet are optional.
 */

export type ExecutionStatus = 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED' | 'TERMINATED' | 'TIMED_OUT' | 'CONTINUED_AS_NEW' | string;

export interface RunListing {
  workflow_id: string;
  run_id: string;
  execution_status: ExecutionStatus;
  runbook: string | null;
  phase: string | null;
  node_id: string | null;
  host_name: string | null;
  awaiting_approval: boolean;
  correlation_id: string | null;
  started_at: string;
  closed_at: string | null;
  status_url: string;
}

export interface StepRecord {
  seq: number;
  name: string;
  phase: string;
  status: string;
  attempt: number;
  started_at: string;
  ended_at?: string;
  error?: { type: string; message: string };
  detail?: string;
}

/** One approver's decision on an approval that needs more than one. */
export interface ApprovalVote {
  actor: string;
  decision: 'approve' | 'reject';
  reason?: string;
  decided_at: string;
  shown_hash?: string;
}

export interface PendingApproval {
  id: string;
  step: string;
  question: string;
  requested_at: string;
  timeout_at: string;
  kind?: string;
  context?: Record<string, unknown>;
  plan_hash?: string;
  disruption?: string;
  min_approvals?: number;
  approvals?: ApprovalVote[];
  forbidden_approvers?: string[];
  /** The hash of what the approver is shown; sent back so a changed request is refused. */
  shown_hash?: string;
  escalation?: { after_ms: number; group: string; escalate_at: string; notified_at?: string };
}

export interface ClosedApproval extends Omit<PendingApproval, 'approvals'> {
  decision: 'approve' | 'reject' | 'timeout';
  actor?: string;
  reason?: string;
  decided_at: string;
  approvals?: ApprovalVote[];
}

export interface RunStatus {
  runbook: string;
  workflow_id: string;
  run_mode: string;
  correlation_id: string;
  requested_by?: string | null;
  phase: string;
  current_step: string | null;
  steps: StepRecord[];
  pending_approval: PendingApproval | null;
  approvals: ClosedApproval[];
  outcome: string | null;
  blocked_on?: { scope: string; cap: number; holders: string[]; waiting: number; since: string } | null;
  plan?: { plan_hash?: string; lines?: string[] } | null;
  target?: { node_id: string; host_name?: string; host_role?: string };
}

export interface RunDetail {
  workflow_id: string;
  run_id: string;
  workflow_type: string;
  execution_status: ExecutionStatus;
  started_at: string;
  closed_at: string | null;
  history_length: number;
  alerts?: Record<string, number>;
  status: RunStatus | null;
}

export interface StartAnswer {
  workflow_id: string;
  run_id: string;
  runbook: string;
  run_mode?: string;
  correlation_id: string;
  status_url: string;
  alert?: string;
  deduplicated?: boolean;
  plan_hash?: string;
  plan_followed?: boolean;
}

/** The answer to an approval decision. `state` and after: the two-approver contract; an older API answers 202 without them. */
export interface DecisionAnswer {
  workflow_id: string;
  run_id: string;
  approval_id: string;
  decision: 'approve' | 'reject';
  actor?: string;
  recorded_at?: string;
  state?: 'pending' | 'approved' | 'rejected';
  min_approvals?: number;
  approvals?: ApprovalVote[];
}

export interface Drill {
  id: string;
  runbook?: string;
  scenario?: string;
  expected?: string;
  node_id?: string;
  schedule?: { cron?: string[]; every_ms?: number };
  created_by: string | null;
  paused: boolean;
  next_runs: string[];
  recent_runs: { at: string; workflow_id: string }[];
}

export interface DrillReport {
  workflow_id: string;
  run_id: string;
  runbook: string;
  scenario: string;
  node_id: string;
  expected: string;
  outcome: string;
  passed: boolean;
  time_to_detect_ms: number | null;
  time_to_recover_ms: number | null;
  started_at: string;
  ended_at: string;
}

export interface BudgetScope {
  scope: string;
  /** False when the scope's ledger did not answer in time: then only `scope` and `error` are set. */
  available?: boolean;
  error?: string;
  size?: number;
  cap?: number;
  unavailable?: number;
  tripped?: boolean;
  holders?: { holder: string; node_id: string; runbook: string; requested_at: string; granted_at: string }[];
  waiters?: { holder: string; node_id: string; runbook: string; requested_at: string }[];
  unavailable_elsewhere?: string[];
}

export interface TokenRecord {
  id: string;
  principal: string;
  roles: string[];
  description: string;
  created_at: string;
}

export interface AuditEntry {
  seq: number;
  at: string;
  principal: string;
  via: string;
  token_id: string | null;
  action: string;
  target: string | null;
  status: number;
  correlation_id: string;
  detail: Record<string, unknown>;
}

export interface ChainCheck {
  ok: boolean;
  rows: number;
  broken?: { seq: number; problem: string };
}
