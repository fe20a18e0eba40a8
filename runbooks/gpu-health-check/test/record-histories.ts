/**
 * Records gpu-health-check's histories for the replay tests:
 * `npx tsx runbooks/gpu-health-check/test/record-histories.ts`.
 */
import path from 'node:path';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { gpuHealthCheckWorkflowId, type GpuHealthCheckRequest } from '../input';

const start: (req: GpuHealthCheckRequest) => Scenario = (req) => (s, taskQueue) =>
  s.client.workflow.start('gpuHealthCheck', {
    taskQueue,
    workflowId: gpuHealthCheckWorkflowId(req.node_id),
    args: [{ correlation_id: `record-${req.node_id}`, ...req }],
  });

const scenarios: Record<string, Scenario> = {
  healthy: start({ node_id: 'dev-gpu-1' }),
  'ecc-unhealthy': async (s, tq) => {
    await s.lab.injectXid('dev-gpu-2', 3, 48);
    return start({ node_id: 'dev-gpu-2' })(s, tq);
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: 'v1', scenarios });
