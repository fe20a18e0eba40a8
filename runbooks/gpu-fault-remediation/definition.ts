import type { RunbookDefinition } from '../../domain/runbook-definition';
import { GPU_FAULT_OUTCOMES, GpuFaultInputSchema, RUNBOOK_GPU_FAULT, gpuAlertSignal, gpuFaultWorkflowId, type GpuAlert } from './input';
import { GPU_FAULT_DRILLS } from './drills';
import type * as workflow from './workflow';

export const gpuFaultRemediationRunbook = {
  name: RUNBOOK_GPU_FAULT,
  summary: 'a GPU fault alert (Xid, ECC) for one worker: drain, reset or reboot, diag, back to service, or RMA behind an approval',
  workflowType: 'gpuFaultRemediation' satisfies keyof typeof workflow,
  schema: GpuFaultInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: GPU_FAULT_OUTCOMES,
  disruption: 'node',
  targetRole: 'worker_compute',
  targetAction: 'reboot_host',
  drills: GPU_FAULT_DRILLS,
  workflowId: (input) => gpuFaultWorkflowId(input.node_id),
  nodeId: (input) => input.node_id,
  // The source and correlation id differ between alerting systems for the same fault; they add nothing.
  alert: (input) => ({ key: `xid=${input.xid ?? '-'}/gpu=${input.gpu_index ?? '-'}`, xid: input.xid }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: gpuAlertSignal.name,
    arg: { xid: input.xid, gpu_index: input.gpu_index, source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies GpuAlert,
  }),
} satisfies RunbookDefinition<typeof GpuFaultInputSchema>;
