import { randomUUID } from 'node:crypto';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import type { Plan } from '../domain/plan';
import type { RunbookDefinition } from '../domain/runbook-definition';
import { MEMO_REQUESTED_BY } from '../domain/runbook';
import { runUserMetadata } from '../domain/run-summary';
import { SA } from '../domain/search-attributes';
import { ApiError } from './errors';
import type { TemporalBudget } from './temporal-call';

export interface StoredPlanRow {
  plan_hash: string;
  runbook: string;
  node_id: string | null;
  workflow_id: string;
  plan: Plan;
  lines: string[];
  created_at: string;
}

/** The stored plan with this hash, as plan-mode runs recorded it. */
export async function findPlan(pool: Pool, planHash: string): Promise<StoredPlanRow | undefined> {
  const res = await pool.query<Omit<StoredPlanRow, 'created_at'> & { created_at: Date }>(
    `SELECT plan_hash, runbook, node_id, workflow_id, plan, lines, created_at FROM runbook_plans WHERE plan_hash = $1`,
    [planHash],
  );
  const row = res.rows[0];
  return row ? { ...row, created_at: row.created_at.toISOString() } : undefined;
}

/**
 * A live run may start from a plan only if that plan exists and was made by the
 * same runbook for the same node: anything else is refused before a run exists.
 */
export async function checkPlanReference(pool: Pool, entry: RunbookDefinition, nodeId: string | undefined, planHash: string): Promise<void> {
  const plan = await findPlan(pool, planHash);
  if (!plan)
    throw new ApiError(422, 'unknown_plan', `no plan with hash ${planHash} was recorded; run the runbook with run_mode plan first`, { plan_hash: planHash });
  if (plan.runbook !== entry.name || (plan.node_id ?? undefined) !== nodeId) {
    throw new ApiError(422, 'plan_mismatch', `plan ${planHash} was made by ${plan.runbook} for ${plan.node_id ?? 'no node'}`, {
      plan_hash: planHash,
      plan_runbook: plan.runbook,
      plan_node_id: plan.node_id,
    });
  }
}

/**
 * Starts a plan-mode run. It has its own workflow id, under the live one, so a
 * plan never joins, blocks or is joined by a live run for the same target.
 */
export async function startPlanRun(
  client: Client,
  taskQueue: string,
  entry: RunbookDefinition,
  input: Record<string, unknown> & { correlation_id: string },
  budget: TemporalBudget,
  requestedBy: string,
): Promise<{ workflowId: string; runId: string }> {
  const workflowId = `${entry.workflowId(input)}/plan/${randomUUID()}`;
  const nodeId = entry.nodeId(input);
  const handle = await budget.call('start', () =>
    client.workflow.start(entry.workflowType, {
      taskQueue,
      workflowId,
      args: [input],
      workflowIdConflictPolicy: 'FAIL',
      memo: { [MEMO_REQUESTED_BY]: requestedBy },
      ...runUserMetadata({
        runbook: entry.name,
        runMode: 'plan',
        nodeId,
        trigger: 'plan requested through the API',
        requestedBy,
        correlationId: input.correlation_id,
      }),
      typedSearchAttributes: [
        { key: SA.Runbook, value: entry.name },
        { key: SA.RunbookPhase, value: 'trigger' },
        { key: SA.CorrelationId, value: input.correlation_id },
        { key: SA.RunMode, value: 'plan' },
        { key: SA.AwaitingApproval, value: false },
        ...(nodeId ? [{ key: SA.NodeId, value: nodeId }] : []),
      ],
    }),
  );
  return { workflowId, runId: handle.firstExecutionRunId };
}
