/**
 * Records worker-add's histories for the replay tests:
 * `npx tsx runbooks/worker-add/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { workerAddWorkflowId } from '../input';

/** The released version being recorded. */
const VERSION = 'v1';

async function add(s: Stack, tq: string, faults: AppRuntimeFault[]) {
  await s.lab.reset();
  const { instance } = await s.lab.createDeployingInstance({ projectId: 'proj-lab', controllerNodeId: 'dev-gpu-1' });
  await eventually(async () => {
    const state = (await s.lab.appRuntimeState()) as { instances?: { id: string; status: string }[] };
    return state.instances?.find((i) => i.id === instance.id)?.status === 'running' ? true : undefined;
  }, 'the instance to run');
  if (faults.length) await s.lab.appFaults(faults);
  return s.client.workflow.start('workerAdd', {
    taskQueue: tq,
    workflowId: workerAddWorkflowId(instance.id, 'dev-gpu-2'),
    args: [{ project_id: 'proj-lab', app_instance_id: instance.id, node_id: 'dev-gpu-2', converge_timeout: '20s', poll_interval: '100ms' }],
  });
}

const scenarios: Record<string, Scenario> = {
  added: (s, tq) => add(s, tq, []),
  'agent-repaired-first': (s, tq) => add(s, tq, [{ fault: 'node_api_unreachable', node_id: 'dev-gpu-2' }]),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
