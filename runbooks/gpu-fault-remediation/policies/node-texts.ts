/**
 * What this runbook writes on the platform: its cordon and uncordon reasons and
 * the one-line summary of a classification. The workflow and its plan build them
 * here, so a plan shows the very request the run then sends.
 */
import type { GpuRow } from '../../../domain/gpu-observations';
import type { FaultAction } from '../input';
import type { Classification } from './fault-classification';

/** Every cordon this runbook makes says so; an uncordon touches only a node cordoned by this runbook. */
export const CORDON_REASON_PREFIX = 'gpu-fault:';

export function summarize(c: Classification): string {
  if (!c.decisive) return 'no fault found';
  const gpus = c.affected_gpus.map((g) => g.index).join(', ');
  return `${c.decisive.reason} → ${c.action}${gpus ? ` (GPU ${gpus})` : ''}; ${c.findings.length} finding(s)`;
}

export const cordonReason = (c: Classification): string => `${CORDON_REASON_PREFIX} ${summarize(c)}`;

/** What a remediation that passed its diag did, for the report and the uncordon reason. */
export const remediatedSummary = (c: Classification, action: FaultAction, level: number, gpuCount: number): string =>
  `${summarize(c)}; ${action} done, diag r${level} passed on all ${gpuCount} GPUs`;

export const uncordonReason = (summary: string): string => `${CORDON_REASON_PREFIX} ${summary}`;

/** GPUs the decisive finding points at; else the alert's GPU index. */
export function gpusToReset(c: Classification, table: GpuRow[], alertGpu: number | undefined): GpuRow[] {
  const byUuid = c.affected_gpus.map((a) => table.find((g) => g.uuid === a.uuid)).filter((g): g is GpuRow => !!g);
  if (byUuid.length > 0) return byUuid;
  const fromAlert = table.find((g) => g.index === alertGpu);
  return fromAlert ? [fromAlert] : [];
}
