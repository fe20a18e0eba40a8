import type { ApprovalVote, ClosedApproval, PendingApproval, RunDetail } from './api-types';
import { type Output, cell, formatTable, time } from './output';

/** Executions that ended without the runbook finishing its work. */
const BAD_ENDINGS = new Set(['FAILED', 'CANCELLED', 'CANCELED', 'TERMINATED', 'TIMED_OUT']);
/** Runbook outcomes that mean the run did not do its job, whatever the execution says. */
const BAD_OUTCOMES = new Set(['failed', 'cancelled']);

export function isClosed(run: RunDetail): boolean {
  return run.execution_status !== 'RUNNING';
}

/** A closed run that failed, was cancelled, terminated or timed out. */
export function endedBadly(run: RunDetail): boolean {
  return BAD_ENDINGS.has(run.execution_status) || BAD_OUTCOMES.has(run.status?.outcome ?? '');
}

/** `1 of 2: alice` — approvals given towards what the request needs. */
export function approvalProgress(minApprovals: number | undefined, votes: ApprovalVote[] | undefined): string {
  const approvers = (votes ?? []).filter((v) => v.decision === 'approve').map((v) => v.actor);
  return `${approvers.length} of ${minApprovals ?? 1}${approvers.length ? `: ${approvers.join(', ')}` : ''}`;
}

/** Who closed an approval: its actor, or the approvers of a multi-person one. */
export function deciders(a: ClosedApproval): string {
  if (a.actor) return a.actor;
  const names = (a.approvals ?? []).map((v) => v.actor);
  return names.length ? names.join(', ') : a.decision === 'timeout' ? 'nobody (timed out)' : '?';
}

/** `runs show`: the run's execution, phase and step, the pending approval, every step and every decision. */
export function printRun(out: Output, run: RunDetail): void {
  const s = run.status;
  out.keyValues([
    ['workflow', run.workflow_id],
    ['run', run.run_id],
    ['runbook', s?.runbook ?? run.workflow_type],
    ['mode', s?.run_mode],
    ['target', s?.target ? [s.target.node_id, s.target.host_role].filter(Boolean).join(' ') : undefined],
    ['requested by', s?.requested_by],
    ['execution', run.execution_status],
    ['started', time(run.started_at)],
    ['closed', time(run.closed_at)],
    ['phase', s?.phase],
    ['current step', s?.current_step],
    ['outcome', s?.outcome],
    ['correlation', s?.correlation_id],
  ]);
  if (!s) {
    out.line('(no status: the run did not answer its status query)');
    return;
  }
  if (s.blocked_on) {
    const b = s.blocked_on;
    out.line(`blocked on   disruption budget ${b.scope} (cap ${b.cap}, held by ${cell(b.holders)}, ${b.waiting} waiting) since ${time(b.since)}`);
  }
  if (s.pending_approval) printPending(out, s.pending_approval);
  out.line();
  out.line('steps:');
  if (s.steps.length === 0) out.line('  (none yet)');
  else {
    const rows = formatTable(s.steps, [
      { header: '#', value: (r) => r.seq },
      { header: 'STEP', value: (r) => r.name },
      { header: 'PHASE', value: (r) => r.phase },
      { header: 'STATUS', value: (r) => r.status },
      { header: 'TRY', value: (r) => r.attempt },
      { header: 'ENDED', value: (r) => time(r.ended_at) },
      { header: 'DETAIL', value: (r) => (r.error ? `${r.error.type}: ${r.error.message}` : r.detail) },
    ]);
    for (const l of rows) out.line(`  ${l}`);
  }
  if (s.approvals.length) {
    out.line();
    out.line('decisions:');
    for (const a of s.approvals) out.line(`  ${a.step}: ${a.decision} by ${deciders(a)} at ${time(a.decided_at)}${a.reason ? `: ${a.reason}` : ''}`);
  }
  if (s.plan?.lines?.length) {
    out.line();
    out.line(`plan${s.plan.plan_hash ? ` ${s.plan.plan_hash}` : ''}:`);
    for (const l of s.plan.lines) out.line(`  ${l}`);
  }
}

function printPending(out: Output, p: PendingApproval): void {
  out.line();
  out.line(`pending approval ${p.step}${p.kind ? ` (${p.kind})` : ''}`);
  out.keyValues(
    [
      ['id', p.id],
      ['question', p.question],
      ['approvals', approvalProgress(p.min_approvals, p.approvals)],
      ['not by', p.forbidden_approvers?.length ? p.forbidden_approvers : undefined],
      ['disruption', p.disruption],
      ['plan', p.plan_hash],
      ['requested', time(p.requested_at)],
      ['times out', time(p.timeout_at)],
      ['escalates', p.escalation ? `${time(p.escalation.escalate_at)} to ${p.escalation.group}` : undefined],
    ].filter(([, v]) => v !== undefined) as [string, unknown][],
    '  ',
  );
  for (const v of p.approvals ?? []) out.line(`  - ${v.decision} by ${v.actor} at ${time(v.decided_at)}${v.reason ? `: ${v.reason}` : ''}`);
  if (p.context && Object.keys(p.context).length) out.line(`  evidence: ${JSON.stringify(p.context)}`);
}
