import { proxyLocalActivities } from '@temporalio/workflow';
import type { EngineActivities } from '../capabilities/evidence/engine-activities';
import type { Plan } from '../domain/plan';
import { BOOKKEEPING_OPTIONS } from './activity-options';
import type { RunbookResult, RunbookRun } from './runner';

const engine = proxyLocalActivities<EngineActivities>(BOOKKEEPING_OPTIONS);

/**
 * The line between a runbook's pre-checks (reads, done for real in every mode)
 * and its procedure. `plan` is what the procedure would do, built from what the
 * pre-checks read.
 *   - plan mode: the run stores the plan and ends `planned`; nothing was changed.
 *   - a live run started from a plan (`planHash`): goes on only when the plan it
 *     makes now is the same; otherwise it ends `plan_drifted` with a readable
 *     diff, having changed nothing. Its approvals then name the plan.
 *   - any other live run: nothing happens here (and nothing is recorded, so runs
 *     started before plan mode replay unchanged).
 * Returns the result to end the run with, or undefined to carry on.
 */
export async function planCheckpoint(run: RunbookRun, plan: Plan, planHash: string | undefined): Promise<RunbookResult | undefined> {
  if (run.id.runMode === 'plan') {
    const summary = await run.step('record_plan', (ctx) => engine.recordPlan(ctx, plan), {
      describe: (s) => `${s.mutations} change(s) on the expected path, ${s.lines.length} line(s); plan ${s.plan_hash}`,
    });
    run.followPlan(summary);
    await run.evidence(run.context('record_plan'), 'plan', `plan ${summary.plan_hash}`, { ...summary, plan });
    return { outcome: 'planned', summary: `plan ${summary.plan_hash}: ${summary.mutations} change(s) on the expected path; nothing was changed` };
  }
  if (!planHash) return undefined;
  const compared = await run.step('compare_with_plan', (ctx) => engine.comparePlan(ctx, plan, planHash), {
    describe: (c) => (c.drift ? `drifted from plan ${planHash}` : `same as plan ${planHash}`),
  });
  if (compared.drift) {
    await run.evidence(run.context('compare_with_plan'), 'plan', `drifted from plan ${planHash}`, {
      expected: planHash,
      now: compared.summary,
      ...compared.drift,
    });
    return {
      outcome: 'plan_drifted',
      summary: `the world changed since plan ${planHash}; nothing was changed. ${compared.drift.diff}`,
    };
  }
  run.followPlan(compared.summary);
  return undefined;
}
