/**
 * Records worker-add's histories for the replay tests:
 * `npx tsx runbooks/worker-add/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { workerAddWorkflowId } from '../input';
import { holdForOperator } from '../../gpu-fault-remediation/test/scenarios';

/** The released version being recorded (v2: the node-lease pre-check). */
const VERSION = 'v2';

async function add(s: Stack, tq: string, faults: AppRuntimeFault[], reset = true) {
  if (reset) await s.lab.reset();
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

/** The node held for an operator after a declined RMA, as a gpu-fault run leaves it; then the add. */
async function heldNode(s: Stack, tq: string) {
  await s.lab.reset();
  await holdForOperator(s, tq, 'dev-gpu-2');
  await s.lab.reset();
  const handle = await add(s, tq, [], false);
  await handle.result();
  await s.freeNode('dev-gpu-2');
  return handle;
}

/** A join that does not verify: this run's inventory says 4 GPUs, slurmctld sees 8; its own worker carries that inventory. */
async function rolledBack(s: Stack) {
  const inventory = { ...s.inventory, hosts: s.inventory.hosts.map((h) => (h.node_id === 'dev-gpu-2' ? { ...h, gpu_count: 4 } : h)) };
  return s.withWorker(
    'record-rollback',
    async (tq) => {
      const handle = await add(s, tq, []);
      await handle.result();
      return handle;
    },
    { inventory },
  );
}

const scenarios: Record<string, Scenario> = {
  added: (s, tq) => add(s, tq, []),
  'agent-repaired-first': (s, tq) => add(s, tq, [{ fault: 'node_api_unreachable', node_id: 'dev-gpu-2' }]),
  'rolled-back': (s) => rolledBack(s),
  'held-node-refused': (s, tq) => heldNode(s, tq),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios });
