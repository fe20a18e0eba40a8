import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  driverUpgradeRequestSignal,
  GPU_DRIVER_UPGRADE_OUTCOMES,
  GpuDriverUpgradeInputSchema,
  gpuDriverUpgradeWorkflowId,
  RUNBOOK_GPU_DRIVER_UPGRADE,
  type DriverUpgradeRequestSignal,
} from './input';
import type * as workflow from './workflow';

export const gpuDriverUpgradeRunbook = {
  name: RUNBOOK_GPU_DRIVER_UPGRADE,
  summary:
    'one worker moved to a pinned NVIDIA driver: cordon, drain, apt install, reboot, dcgmi diag, uncordon; the previous pin back on failure. Rolled over a fleet as a fleet run, one budget slot per node',
  workflowType: 'gpuDriverUpgrade' satisfies keyof typeof workflow,
  schema: GpuDriverUpgradeInputSchema,
  supportedRunModes: ['live', 'plan'],
  outcomes: GPU_DRIVER_UPGRADE_OUTCOMES,
  disruption: 'node',
  targetRole: 'worker_compute',
  targetAction: 'install_gpu_driver',
  workflowId: (input) => gpuDriverUpgradeWorkflowId(input.node_id),
  nodeId: (input) => input.node_id,
  alert: (input) => ({ key: input.package, xid: undefined }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: driverUpgradeRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies DriverUpgradeRequestSignal,
  }),
} satisfies RunbookDefinition<typeof GpuDriverUpgradeInputSchema>;
