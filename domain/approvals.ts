/**
 * The rules every approval follows, whichever way the decision arrives (the API's
 * Workflow Update, or a signal from the Temporal UI or CLI). Pure: the workflow's
 * validator, its signal path and the API's error mapping all use them.
 */

/** What an approval lets the run do; risky kinds need more than one approver. */
export const APPROVAL_KINDS = ['rma', 'force_evict', 'lock_release', 'fleet_change', 'repeat_remediation', 'generic'] as const;
export type ApprovalKind = (typeof APPROVAL_KINDS)[number];

/** Distinct approvers each kind needs unless configured otherwise (as AWS SSM's MinRequiredApprovals). */
export const DEFAULT_MIN_APPROVALS: Record<ApprovalKind, number> = {
  rma: 2,
  lock_release: 2,
  force_evict: 1,
  fleet_change: 1,
  repeat_remediation: 1,
  generic: 1,
};

/**
 * Configured minimums: keys are `<kind>` or `<runbook>/<kind>`; the runbook's own
 * entry wins. A drill answers its own approvals once, so it always needs one.
 */
export function minApprovalsFor(overrides: Record<string, number>, runbook: string, kind: ApprovalKind, drill: boolean): number {
  if (drill) return 1;
  return overrides[`${runbook}/${kind}`] ?? overrides[kind] ?? DEFAULT_MIN_APPROVALS[kind];
}

export type ApprovalChannel = 'update' | 'signal';

export interface ApprovalVote {
  actor: string;
  decision: 'approve' | 'reject';
  reason: string;
  decided_at: string;
  /** Hash of the request as the approver saw it (question, evidence, plan, disruption). */
  shown_hash: string;
  via: ApprovalChannel;
}

/** The part of a pending request the rules read. */
export interface ApprovalBallot {
  id: string;
  min_approvals: number;
  shown_hash: string;
  approvals: ApprovalVote[];
  /** Who may not decide it: the run's requester (two-person rule). */
  forbidden_approvers: string[];
  /** A drill answers its own approvals; only this actor, only in a drill run. */
  scripted_answerer?: string;
}

/** A decision as it arrives, before any rule has looked at it. */
export interface IncomingDecision {
  decision?: unknown;
  actor?: unknown;
  reason?: unknown;
  approval_id?: unknown;
  shown_hash?: unknown;
}

export const APPROVAL_REFUSALS = {
  invalid_decision: 400,
  missing_actor: 400,
  missing_reason: 400,
  no_pending_approval: 409,
  stale_approval: 409,
  approval_changed: 409,
  already_decided: 409,
  duplicate_approver: 409,
  forbidden_approver: 403,
  unknown_approver: 403,
  signals_disabled: 403,
} as const;
export type ApprovalRefusalCode = keyof typeof APPROVAL_REFUSALS;

export interface ApprovalRefusal {
  code: ApprovalRefusalCode;
  message: string;
}

export type ApprovalState = 'pending' | 'approved' | 'rejected';

/** Approved once enough distinct approvers said yes; rejected by any one allowed approver. */
export function tally(ballot: Pick<ApprovalBallot, 'approvals' | 'min_approvals'>): ApprovalState {
  if (ballot.approvals.some((v) => v.decision === 'reject')) return 'rejected';
  return ballot.approvals.length >= ballot.min_approvals ? 'approved' : 'pending';
}

const text = (v: unknown): string => (typeof v === 'string' ? v.trim() : '');

/** Why a decision must be refused before it changes anything, or null when it may be recorded. */
export function refusalOf(ballot: ApprovalBallot | null, d: IncomingDecision): ApprovalRefusal | null {
  if (d.decision !== 'approve' && d.decision !== 'reject') return { code: 'invalid_decision', message: 'decision must be "approve" or "reject"' };
  const actor = text(d.actor);
  if (!actor) return { code: 'missing_actor', message: 'a decision must name its actor' };
  if (!text(d.reason)) return { code: 'missing_reason', message: 'a decision must give a reason' };
  if (!ballot) return { code: 'no_pending_approval', message: 'the run is not waiting for an approval' };
  if (d.approval_id !== undefined && d.approval_id !== ballot.id)
    return { code: 'stale_approval', message: `approval ${String(d.approval_id)} is not the pending one (${ballot.id})` };
  if (tally(ballot) !== 'pending') return { code: 'already_decided', message: `approval ${ballot.id} is already decided` };
  if (d.shown_hash !== undefined && d.shown_hash !== ballot.shown_hash)
    return { code: 'approval_changed', message: `approval ${ballot.id} changed since it was shown; read it again before deciding` };
  if (ballot.forbidden_approvers.includes(actor) && actor !== ballot.scripted_answerer)
    return { code: 'forbidden_approver', message: `${actor} requested this run and cannot decide its approvals (two-person rule)` };
  if (ballot.approvals.some((v) => v.actor === actor)) return { code: 'duplicate_approver', message: `${actor} already decided approval ${ballot.id}` };
  return null;
}

/** "1 of 2: bob" — who has approved so far. */
export function approvalProgress(ballot: Pick<ApprovalBallot, 'approvals' | 'min_approvals'>): string {
  const yes = ballot.approvals.filter((v) => v.decision === 'approve').map((v) => v.actor);
  return `${yes.length} of ${ballot.min_approvals}${yes.length ? `: ${yes.join(', ')}` : ''}`;
}
