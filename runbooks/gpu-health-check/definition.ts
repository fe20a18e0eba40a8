import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  GPU_HEALTH_CHECK_OUTCOMES,
  GpuHealthCheckInputSchema,
  RUNBOOK_GPU_HEALTH_CHECK,
  gpuHealthCheckWorkflowId,
  healthCheckRequestSignal,
  type HealthCheckRequest,
} from './input';
import type * as workflow from './workflow';

export const gpuHealthCheckRunbook = {
  name: RUNBOOK_GPU_HEALTH_CHECK,
  summary: 'is one worker fit to take work: its GPUs read over SSH, nothing changed',
  workflowType: 'gpuHealthCheck' satisfies keyof typeof workflow,
  schema: GpuHealthCheckInputSchema,
  supportedRunModes: ['live', 'drill'],
  outcomes: GPU_HEALTH_CHECK_OUTCOMES,
  disruption: 'none',
  targetRole: 'worker_compute',
  targetAction: 'read_gpu_state',
  workflowId: (input) => gpuHealthCheckWorkflowId(input.node_id),
  nodeId: (input) => input.node_id,
  // Every request for the same node asks the same question: one key, so repeats are coalesced.
  alert: () => ({ key: 'check', xid: undefined }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: healthCheckRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies HealthCheckRequest,
  }),
} satisfies RunbookDefinition<typeof GpuHealthCheckInputSchema>;
