import type { WorkflowHandle } from '@temporalio/client';
import { gpuFaultWorkflowId, type GpuFaultRequest } from '../input';
import { approvalSignal, statusQuery } from '../../../domain/messages';
import type { RunReport, RunStatus } from '../../../domain/runbook';
import { eventually, type Stack } from '../../../test/support/harness';
import { SIGNAL_APPROVERS } from '../../../test/support/principals';

/** Short waits so the real workflow code runs in seconds. */
export const FAST = {
  drain_timeout: '5s',
  approval_timeout: '30s',
  reboot_timeout: '20s',
  poll_interval: '100ms',
  diag_level: 2,
} as const;

/** A clean slate for a node: no open run left by an earlier (failed) test, no remediation history. */
export async function clearHistory(stack: Stack, nodeId: string): Promise<void> {
  const handle = stack.client.workflow.getHandle(gpuFaultWorkflowId(nodeId));
  const open = await handle.describe().then(
    (d) => d.status.name === 'RUNNING',
    () => false,
  );
  if (open) await handle.terminate('test clean-up: left open by an earlier test');
  await stack.pool.query('DELETE FROM runbook_runs WHERE node_id = $1', [nodeId]);
}

export async function startGpuFault(stack: Stack, taskQueue: string, req: GpuFaultRequest): Promise<WorkflowHandle> {
  return stack.client.workflow.start('gpuFaultRemediation', {
    taskQueue,
    workflowId: gpuFaultWorkflowId(req.node_id),
    args: [{ ...FAST, correlation_id: `test-${req.node_id}-${Date.now()}`, ...req }],
    workflowIdConflictPolicy: 'FAIL',
  });
}

/** A plan-mode run, under its own workflow id as the API starts one. */
export async function planGpuFault(
  stack: Stack,
  taskQueue: string,
  req: Omit<GpuFaultRequest, 'run_mode'>,
): Promise<WorkflowHandle<(r: GpuFaultRequest) => Promise<RunReport>>> {
  return stack.client.workflow.start('gpuFaultRemediation', {
    taskQueue,
    workflowId: `${gpuFaultWorkflowId(req.node_id)}/plan/${Date.now()}`,
    args: [{ ...FAST, correlation_id: `test-plan-${req.node_id}-${Date.now()}`, ...req, run_mode: 'plan' }],
  });
}

export async function waitForApproval(handle: WorkflowHandle, step: string): Promise<RunStatus> {
  return eventually(async () => {
    const s = await handle.query(statusQuery);
    return s.pending_approval?.step === step ? s : undefined;
  }, `approval ${step}`);
}

/** Decides an approval by signal: one rejection, or as many distinct on-call approvers as it needs. */
export async function decide(handle: WorkflowHandle, step: string, decision: 'approve' | 'reject'): Promise<void> {
  const pending = (await waitForApproval(handle, step)).pending_approval!;
  const signers = decision === 'reject' ? SIGNAL_APPROVERS.slice(0, 1) : SIGNAL_APPROVERS.slice(0, pending.min_approvals);
  for (const actor of signers) await handle.signal(approvalSignal, { decision, actor, reason: `test ${decision}`, approval_id: pending.id });
}

/**
 * Leaves `nodeId` held for an operator, as a real run does: a persistent memory fault,
 * the RMA declined, outcome held_for_operator (the node keeps its disruption slot).
 */
export async function holdForOperator(stack: Stack, taskQueue: string, nodeId: string): Promise<RunReport> {
  await clearHistory(stack, nodeId);
  await stack.lab.injectXid(nodeId, 5, 48, true);
  const run = await startGpuFault(stack, taskQueue, { node_id: nodeId });
  await decide(run, 'approve_rma', 'reject');
  return (await run.result()) as RunReport;
}

export function stepNames(report: RunReport): string[] {
  return report.steps.map((s) => s.name);
}
