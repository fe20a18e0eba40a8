/**
 * Records the engine's own workflows for the replay tests (`engine/histories/`):
 * `npx tsx test/replay/record-engine-histories.ts [scenario...]`. The runbooks
 * record theirs in `runbooks/<name>/test/record-histories.ts`.
 */
import path from 'node:path';
import type { DrillInput } from '../../domain/drills';
import { ledgerWorkflowId } from '../../domain/disruption';
import type { FleetRunInput } from '../../domain/fleet-run';
import { GPU_FAULT_DRILLS } from '../../runbooks/gpu-fault-remediation/drills';
import { gpuFaultWorkflowId } from '../../runbooks/gpu-fault-remediation/input';
import { startGpuFault } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { GpuHealthCheckInputSchema, gpuHealthCheckWorkflowId } from '../../runbooks/gpu-health-check/input';
import { runRecording, type Scenario } from '../support/record-histories';

const scenarios: Record<string, Scenario> = {
  // Four health checks, two at a time, one of them on an unhealthy node.
  'fleet-run-health-checks': async (s, taskQueue) => {
    await s.lab.injectXid('dev-gpu-2', 3, 48);
    const nodes = ['dev-gpu-1', 'dev-gpu-2', 'dev-gpu-3', 'dev-gpu-4'];
    const input: FleetRunInput = {
      runbook: 'gpu-health-check',
      child_workflow_type: 'gpuHealthCheck',
      targets: nodes.map((node_id) => ({
        node_id,
        workflow_id: gpuHealthCheckWorkflowId(node_id),
        input: GpuHealthCheckInputSchema.parse({ node_id, correlation_id: 'record-fleet' }),
      })),
      max_concurrency: 2,
      max_errors: { count: 1 },
      correlation_id: 'record-fleet',
    };
    return s.client.workflow.start('fleetRun', { taskQueue, workflowId: 'fleet/gpu-health-check/record', args: [input] });
  },
  // The drill a schedule starts: inject, run in drill mode as a child, answer nothing, report.
  'drill-transient-xid': async (s, taskQueue) => {
    const input: DrillInput = {
      drill_id: 'record-transient',
      runbook: 'gpu-fault-remediation',
      workflow_type: 'gpuFaultRemediation',
      scenario: GPU_FAULT_DRILLS[0]!,
      node_id: 'dev-gpu-3',
      child_workflow_id: gpuFaultWorkflowId('dev-gpu-3'),
    };
    return s.client.workflow.start('runbookDrill', { taskQueue, workflowId: 'drill/record-transient', args: [input] });
  },
  // Two faults in one rack with a cap of one: the rack's ledger grants, queues, then grants again.
  'ledger-rack-contention': async (s, taskQueue) => {
    await s.lab.injectXid('dev-gpu-1', 3, 48);
    await s.lab.injectXid('dev-gpu-4', 3, 48);
    const runs = [await startGpuFault(s, taskQueue, { node_id: 'dev-gpu-1' }), await startGpuFault(s, taskQueue, { node_id: 'dev-gpu-4' })];
    await Promise.all(runs.map((r) => r.result()));
    return { open: s.client.workflow.getHandle(ledgerWorkflowId('rack/rack-1')) };
  },
};

runRecording({
  out: path.join(__dirname, '..', '..', 'engine', 'histories'),
  version: 'v1',
  scenarios,
  worker: { budgets: { rack: { max: 1 } } },
});
