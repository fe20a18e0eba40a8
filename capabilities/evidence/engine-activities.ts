import type { RunReport, StepRecord } from '../../domain/runbook';
import type { StepContext } from '../../domain/step-context';
import type { KernelLogCursor } from '../gpu/kernel-log-window';
import { currentTraceId } from '../observability';
import type { EvidenceInput, EvidenceStore } from './evidence-store';

/** Activities the step runner uses to keep the engine's own records. */
export function createEngineActivities(deps: { evidence: EvidenceStore }) {
  const { evidence } = deps;
  return {
    async recordRunStarted(ctx: StepContext, input: unknown, runMode: string): Promise<void> {
      await evidence.runStarted(ctx, input, runMode, currentTraceId());
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
    async countRecentRemediations(ctx: StepContext, windowDays: number): Promise<number> {
      return evidence.countRecentRemediations(ctx.runbook, ctx.node_id!, windowDays, ctx.run_id);
    },
  };
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
