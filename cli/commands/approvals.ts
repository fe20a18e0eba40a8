import { Command } from 'commander';
import type { DecisionAnswer, RunDetail } from '../api-types';
import { ApiError } from '../api-client';
import { contextOf, runPath } from '../context';
import type { Output } from '../output';
import { approvalProgress } from '../run-view';

type Decision = 'approve' | 'reject';

/** `approve` and `reject`: one decision on the run's pending approval, as the token's principal. */
export function decisionCommand(decision: Decision): Command {
  return new Command(decision)
    .description(`${decision} the pending approval of a run (POST /api/v1/runs/{id}/approvals)`)
    .argument('<workflow-id>', 'e.g. gpu-fault/dev-gpu-1')
    .requiredOption('--reason <text>', 'why; kept with the decision and in the audit trail')
    .option('--approval-id <id>', 'the approval you mean (default: the one pending when the command reads the run)')
    .action(async (workflowId: string, opts: { reason: string; approvalId?: string }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      // Read what is pending and send back its id and the hash of what was shown, so
      // the API refuses the decision if the request changed in between (409).
      const run = await api.get<RunDetail>(runPath(workflowId));
      const pending = run.status?.pending_approval ?? null;
      const body: Record<string, unknown> = { decision, reason: opts.reason };
      if (opts.approvalId) body['approval_id'] = opts.approvalId;
      // An API that shows a shown_hash takes approval_id and shown_hash; an older one refuses both fields.
      if (pending?.shown_hash) Object.assign(body, { approval_id: opts.approvalId ?? pending.id, shown_hash: pending.shown_hash });
      if (pending && !out.json) out.note(`${decision === 'approve' ? 'approving' : 'rejecting'} ${pending.step} of ${workflowId}: ${pending.question}`);
      let answer: DecisionAnswer;
      try {
        answer = (await api.post<DecisionAnswer>(`${runPath(workflowId)}/approvals`, body)).body;
      } catch (err) {
        throw withHint(err, workflowId);
      }
      if (out.json) return out.printJson(answer);
      printDecision(out, answer);
    });
}

/** `approved (1 of 2: alice)`, then what the approval as a whole now is. */
export function printDecision(out: Output, a: DecisionAnswer): void {
  const past = a.decision === 'approve' ? 'approved' : 'rejected';
  if (!a.state) {
    // An API before the two-person contract: it only says the decision was sent.
    out.line(`${past} (decision sent for approval ${a.approval_id})`);
    return;
  }
  if (a.decision === 'approve') out.line(`${past} (${approvalProgress(a.min_approvals, a.approvals)})`);
  else out.line(`${past} (by ${a.actor ?? 'you'})`);
  if (a.state === 'pending') {
    const given = (a.approvals ?? []).filter((v) => v.decision === 'approve').length;
    const more = Math.max(0, (a.min_approvals ?? 1) - given);
    out.line(`still pending: ${more} more approval${more === 1 ? '' : 's'} needed`);
  } else out.line(`approval ${a.approval_id} is ${a.state}; the run goes on`);
}

const HINTS: Record<string, string> = {
  stale_approval: 'the run now waits for another approval: read it again with `runs show` and decide on that one',
  approval_changed: 'what is asked changed since you read it: read it again with `runs show`',
  duplicate_approver: 'you already approved this; another approver must give the next approval',
  forbidden_approver: 'the principal who started the run cannot approve it (two-person rule)',
};

function withHint(err: unknown, workflowId: string): unknown {
  if (!(err instanceof ApiError)) return err;
  const hint = HINTS[err.code] ?? (err.code === 'no_pending_approval' ? `${workflowId} is not waiting for an approval` : undefined);
  if (hint && !err.notes.includes(hint)) err.notes.unshift(hint);
  return err;
}
