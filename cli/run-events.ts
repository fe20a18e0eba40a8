import type { RunDetail } from './api-types';
import { approvalProgress, deciders } from './run-view';

/** One change between two reads of a run, as `runs watch` prints it. */
export interface RunEvent {
  kind: 'run' | 'phase' | 'step' | 'approval' | 'budget' | 'outcome';
  text: string;
  data: Record<string, unknown>;
}

/**
 * What changed from `before` (undefined: nothing seen yet) to `after`. Pure, so the
 * same two reads always give the same lines; steps are matched by their seq.
 */
export function runEvents(before: RunDetail | undefined, after: RunDetail): RunEvent[] {
  const events: RunEvent[] = [];
  const was = before?.status ?? undefined;
  const now = after.status ?? undefined;
  if (before && before.run_id !== after.run_id) {
    events.push({ kind: 'run', text: `new run ${after.run_id}`, data: { run_id: after.run_id } });
  }
  if (now && now.phase !== was?.phase) events.push({ kind: 'phase', text: `phase ${now.phase}`, data: { phase: now.phase } });

  const seen = new Map((was?.steps ?? []).map((s) => [s.seq, s]));
  for (const step of now?.steps ?? []) {
    const prior = seen.get(step.seq);
    if (prior && prior.status === step.status && prior.attempt === step.attempt) continue;
    const why = step.error ? `: ${step.error.type}: ${step.error.message}` : step.detail ? `: ${step.detail}` : '';
    const attempt = step.attempt > 1 ? ` (try ${step.attempt})` : '';
    events.push({ kind: 'step', text: `step ${step.name} ${step.status}${attempt}${why}`, data: { step: step.name, seq: step.seq, status: step.status } });
  }

  const pendingBefore = was?.pending_approval ?? null;
  const pending = now?.pending_approval ?? null;
  if (pending && pending.id !== pendingBefore?.id) {
    events.push({
      kind: 'approval',
      text: `approval ${pending.step} pending (${approvalProgress(pending.min_approvals, pending.approvals)}): ${pending.question}`,
      data: { step: pending.step, approval_id: pending.id, state: 'pending', min_approvals: pending.min_approvals ?? 1 },
    });
  } else if (pending && pendingBefore && (pending.approvals?.length ?? 0) !== (pendingBefore.approvals?.length ?? 0)) {
    events.push({
      kind: 'approval',
      text: `approval ${pending.step}: ${approvalProgress(pending.min_approvals, pending.approvals)}`,
      data: { step: pending.step, approval_id: pending.id, state: 'pending', approvers: (pending.approvals ?? []).map((v) => v.actor) },
    });
  }
  const closedBefore = new Set((was?.approvals ?? []).map((a) => a.id));
  for (const a of now?.approvals ?? []) {
    if (closedBefore.has(a.id)) continue;
    events.push({
      kind: 'approval',
      text: `approval ${a.step} ${a.decision} by ${deciders(a)}${a.reason ? `: ${a.reason}` : ''}`,
      data: { step: a.step, approval_id: a.id, decision: a.decision, actor: deciders(a) },
    });
  }

  const blocked = now?.blocked_on ?? null;
  const blockedBefore = was?.blocked_on ?? null;
  if (blocked && blocked.scope !== blockedBefore?.scope) {
    events.push({
      kind: 'budget',
      text: `waiting for disruption budget ${blocked.scope} (cap ${blocked.cap}, held by ${blocked.holders.join(', ') || '-'})`,
      data: { scope: blocked.scope, waiting: true },
    });
  } else if (!blocked && blockedBefore) {
    events.push({ kind: 'budget', text: `disruption budget ${blockedBefore.scope} granted`, data: { scope: blockedBefore.scope, waiting: false } });
  }

  if (now?.outcome && now.outcome !== was?.outcome) events.push({ kind: 'outcome', text: `outcome ${now.outcome}`, data: { outcome: now.outcome } });
  if (after.execution_status !== (before?.execution_status ?? 'RUNNING')) {
    events.push({ kind: 'run', text: `run ${after.execution_status}`, data: { execution_status: after.execution_status } });
  }
  return events;
}
