import type { RunReport, StepRecord } from '../../domain/runbook';
import type { StepContext } from '../../domain/step-context';
import type { KernelLogCursor } from '../gpu/kernel-log-window';
import { currentTraceId } from '../observability';
import type { EvidenceInput, EvidenceStore } from './evidence-store';
import type { Plan, PlanSummary } from '../../domain/plan';
import { planDiff, summarizePlan, type PlanStore } from './plan-store';

/** How a live run's plan compares with the plan it was started from. */
export type PlanComparison = { summary: PlanSummary; drift: null } | { summary: PlanSummary; drift: { known: boolean; diff: string } };

/** Activities the step runner uses to keep the engine's own records. */
export function createEngineActivities(deps: { evidence: EvidenceStore; plans: PlanStore }) {
  const { evidence, plans } = deps;
  return {
    async recordRunStarted(ctx: StepContext, input: unknown, runMode: string, requestedBy: string | null = null): Promise<void> {
      await evidence.runStarted(ctx, input, runMode, currentTraceId(), requestedBy);
    },
    async recordStep(ctx: StepContext, step: StepRecord): Promise<void> {
      await evidence.step(ctx, step);
    },
    async recordEvidence(ctx: StepContext, e: Omit<EvidenceInput, 'trace_id'>): Promise<string> {
      return evidence.record(ctx, { ...e, trace_id: currentTraceId() });
    },
    async recordRunFinished(ctx: StepContext, status: 'completed' | 'failed' | 'cancelled', report: RunReport): Promise<void> {
      await evidence.runFinished(ctx, status, report);
    },
    /** Where the node's last completed remediation stopped reading its kernel log (null: never). */
    async readKernelLogCursor(ctx: StepContext): Promise<KernelLogCursor | null> {
      return evidence.latestKernelLogCursor<KernelLogCursor>(ctx.runbook, ctx.node_id!);
    },
    async recordKernelLogCursor(ctx: StepContext, cursor: KernelLogCursor): Promise<void> {
      await evidence.setKernelLogCursor(ctx, cursor);
    },
    /** Stores a plan-mode run's plan; returns its hash and readable lines. */
    async recordPlan(ctx: StepContext, plan: Plan): Promise<PlanSummary> {
      return plans.save(plan, ctx.workflow_id);
    },
    /** The live run's own plan against the stored one it was started from: equal, or the diff. */
    async comparePlan(_ctx: StepContext, plan: Plan, expectedHash: string): Promise<PlanComparison> {
      const summary = summarizePlan(plan);
      if (summary.plan_hash === expectedHash) return { summary, drift: null };
      const stored = await plans.find(expectedHash);
      if (!stored) return { summary, drift: { known: false, diff: `no plan with hash ${expectedHash} was recorded` } };
      return {
        summary,
        drift: { known: true, diff: planDiff(stored.lines, summary.lines, `plan ${expectedHash.slice(0, 12)}`, `now ${summary.plan_hash.slice(0, 12)}`) },
      };
    },
    async countRecentRemediations(ctx: StepContext, windowDays: number): Promise<number> {
      return evidence.countRecentRemediations(ctx.runbook, ctx.node_id!, windowDays, ctx.run_id);
    },
  };
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
