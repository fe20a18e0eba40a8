import { createHash } from 'node:crypto';
import { createTwoFilesPatch } from 'diff';
import type { Pool } from 'pg';
import { canonicalJson } from '../../domain/canonical-json';
import { countMutations, renderPlan, type Plan, type PlanSummary } from '../../domain/plan';
import { pgSafeJson } from '../../domain/pg-safe-json';

export function summarizePlan(plan: Plan): PlanSummary {
  return {
    plan_hash: createHash('sha256').update(canonicalJson(plan)).digest('hex'),
    lines: renderPlan(plan.actions),
    mutations: countMutations(plan.actions),
  };
}

export interface StoredPlan extends PlanSummary {
  plan: Plan;
  workflow_id: string;
  created_at: string;
}

/** A unified diff of two plans' readable lines; empty when they read the same. */
export function planDiff(before: string[], after: string[], beforeName: string, afterName: string): string {
  return createTwoFilesPatch(beforeName, afterName, before.join('\n') + '\n', after.join('\n') + '\n', undefined, undefined, { context: 2 })
    .split('\n')
    .filter((l) => !l.startsWith('==='))
    .join('\n')
    .trim();
}

/** Plans that plan-mode runs produced, by hash: what a live run's `plan_hash` refers to. */
export class PlanStore {
  constructor(private readonly pool: Pool) {}

  /** Stores the plan; the same plan made again points at its latest plan run. */
  async save(plan: Plan, workflowId: string): Promise<PlanSummary> {
    const summary = summarizePlan(plan);
    await this.pool.query(
      `INSERT INTO runbook_plans (plan_hash, runbook, node_id, workflow_id, plan, lines)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (plan_hash) DO UPDATE SET workflow_id = EXCLUDED.workflow_id, created_at = now()`,
      [summary.plan_hash, plan.runbook, plan.node_id, workflowId, pgSafeJson(plan), pgSafeJson(summary.lines)],
    );
    return summary;
  }

  async find(planHash: string): Promise<StoredPlan | undefined> {
    const res = await this.pool.query<{ plan: Plan; lines: string[]; workflow_id: string; created_at: Date }>(
      `SELECT plan, lines, workflow_id, created_at FROM runbook_plans WHERE plan_hash = $1`,
      [planHash],
    );
    const row = res.rows[0];
    if (!row) return undefined;
    return {
      plan: row.plan,
      plan_hash: planHash,
      lines: row.lines,
      mutations: countMutations(row.plan.actions),
      workflow_id: row.workflow_id,
      created_at: row.created_at.toISOString(),
    };
  }
}
