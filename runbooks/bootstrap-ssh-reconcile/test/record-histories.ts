/**
 * Records bootstrap-ssh-reconcile's histories for the replay tests:
 * `npx tsx runbooks/bootstrap-ssh-reconcile/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import type { Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { bootstrapSshReconcileWorkflowId } from '../input';

/** The released version being recorded. */
const VERSION = 'v1';

async function reconcile(s: Stack, tq: string, faults: AppRuntimeFault[]) {
  await s.lab.reset();
  const { instance } = await s.lab.createDeployingInstance({ projectId: 'proj-lab', controllerNodeId: 'dev-gpu-1', faults });
  return s.client.workflow.start('bootstrapSshReconcile', {
    taskQueue: tq,
    workflowId: bootstrapSshReconcileWorkflowId(instance.id),
    args: [{ project_id: 'proj-lab', app_instance_id: instance.id, converge_timeout: '3s', poll_interval: '100ms' }],
  });
}

const scenarios: Record<string, Scenario> = {
  connected: (s, tq) => reconcile(s, tq, []),
  'agent-repaired-first': (s, tq) => reconcile(s, tq, [{ fault: 'node_api_unreachable' }]),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
