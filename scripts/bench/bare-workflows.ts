/**
 * Baseline for the benchmark: the pre-check chain of a no-fault gpu-fault run as
 * bare Temporal activity calls. Same activities and activity options as
 * gpuFaultRemediation, but no step runner: no recordRunStarted/recordStep/
 * recordEvidence/recordRunFinished, no search attributes, no status query.
 * (readGpuObservations still writes its own command evidence, as in the real run.)
 */
import type { Duration } from '@temporalio/common';
import { proxyActivities, workflowInfo } from '@temporalio/workflow';
import type { RunbookActivities } from '../../capabilities';
import { NON_RETRYABLE_ERROR_TYPES } from '../../domain/errors';
import { classifyFindings } from '../../runbooks/gpu-fault-remediation/policies/fault-classification';
import { REPEAT_REMEDIATION_WINDOW_DAYS, RUNBOOK_GPU_FAULT } from '../../runbooks/gpu-fault-remediation/input';
import type { StepContext } from '../../domain/step-context';

const retry = { initialInterval: '1s' as Duration, maximumInterval: '30s' as Duration, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };
const inventory = proxyActivities<RunbookActivities>({ startToCloseTimeout: '10s', retry: { ...retry, maximumAttempts: 3 } });
const engine = proxyActivities<RunbookActivities>({ startToCloseTimeout: '30s', retry: { ...retry, maximumAttempts: 10 } });
const hostRead = proxyActivities<RunbookActivities>({ startToCloseTimeout: '2m', retry: { ...retry, maximumAttempts: 5 } });

export async function bareGpuPrecheck(nodeId: string): Promise<{ outcome: 'no_fault_found' | 'fault_found'; action: string }> {
  const { workflowId, runId } = workflowInfo();
  const host = await inventory.describeHost(nodeId);
  const ctx = (step: string, seq: number): StepContext => ({
    workflow_id: workflowId,
    run_id: runId,
    runbook: RUNBOOK_GPU_FAULT,
    correlation_id: workflowId,
    step,
    idempotency_key: `${workflowId}/${runId}/${seq}-${step}`,
    node_id: host.node_id,
    host_name: host.hostname,
  });
  await engine.countRecentRemediations(ctx('check_remediation_history', 3), REPEAT_REMEDIATION_WINDOW_DAYS);
  const observed = await hostRead.readGpuObservations(ctx('read_gpu_state', 4));
  const c = classifyFindings(observed.table, observed.xids);
  return { outcome: c.fault_found ? 'fault_found' : 'no_fault_found', action: c.action };
}
