/**
 * worker-add against the lab: a node joins a running instance and slurmctld sees it
 * idle with its GPUs; a node whose agent is offline is repaired first; a join that does
 * not verify is rolled back, leaving the controller as it was; a node another run holds
 * out of service is refused.
 */
import type { RunReport } from '../../../domain/runbook';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { connectStack, eventually, type Stack, type WorkerOverrides } from '../../../test/support/harness';
import { workerAddWorkflowId } from '../input';
import { holdForOperator } from '../../gpu-fault-remediation/test/scenarios';

const CONTROLLER_NODE = 'dev-gpu-1';
const NEW_WORKER = 'dev-gpu-2';
const PROJECT = 'proj-lab';
const FAST = { converge_timeout: '20s', poll_interval: '100ms' } as const;

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
  // An earlier suite's run may have ended with the node held for an operator.
  await stack.freeNode(NEW_WORKER);
});

/** A running instance (the lab converges a fault-free deploy on its own), then `faults` on the new worker. */
async function runningInstance(faults: AppRuntimeFault[] = []): Promise<string> {
  const { instance } = await stack.lab.createDeployingInstance({ projectId: PROJECT, controllerNodeId: CONTROLLER_NODE });
  await eventually(async () => {
    const state = (await stack.lab.appRuntimeState()) as { instances?: { id: string; status: string }[] };
    return state.instances?.find((i) => i.id === instance.id)?.status === 'running' ? true : undefined;
  }, 'the instance to run');
  if (faults.length) await stack.lab.appFaults(faults);
  return instance.id;
}

async function addWorker(appInstanceId: string, workerOptions: WorkerOverrides = {}): Promise<RunReport> {
  return stack.withWorker(
    'worker-add',
    async (taskQueue) =>
      (
        await stack.client.workflow.start('workerAdd', {
          taskQueue,
          workflowId: `${workerAddWorkflowId(appInstanceId, NEW_WORKER)}/${Date.now()}`,
          args: [{ project_id: PROJECT, app_instance_id: appInstanceId, node_id: NEW_WORKER, ...FAST }],
        })
      ).result(),
    workerOptions,
  );
}

const kinds = async (nodeId: string) => (await stack.lab.records(nodeId)).mutations.filter((m) => m.applied).map((m) => m.kind);

test('happy path: the worker joins and slurmctld sees it idle with its 8 GPUs', async () => {
  const id = await runningInstance();
  const report = await addWorker(id);
  expect(report.outcome).toBe('added');
  expect(report.summary).toMatch(/idle, 8 GPUs as gres/);
  expect(report.steps.map((s) => s.name)).toEqual(
    expect.arrayContaining(['lease_disruption_slots', 'add_worker', 'verify_slurm_node', 'release_disruption_slots']),
  );
  expect(await kinds(NEW_WORKER)).toEqual(['member_operation']);
});

test('an offline agent on the new worker is repaired first, on that worker only', async () => {
  const id = await runningInstance([{ fault: 'node_api_unreachable', node_id: NEW_WORKER }]);
  const report = await addWorker(id);
  expect(report.outcome).toBe('added');
  expect(report.summary).toContain('node-agent repaired first: node_api_unreachable');
  expect(await kinds('dev-lab-1')).toEqual([]);
});

test('a join that does not verify is rolled back: the inventory says 4 GPUs, slurmctld sees 8', async () => {
  const id = await runningInstance();
  const inventory = { ...stack.inventory, hosts: stack.inventory.hosts.map((h) => (h.node_id === NEW_WORKER ? { ...h, gpu_count: 4 } : h)) };
  const report = await addWorker(id, { inventory });
  expect(report.outcome).toBe('rolled_back');
  expect(report.summary).toMatch(/not idle with 4 GPUs; member removed \(succeeded\), controller untouched/);
  expect(await kinds(NEW_WORKER)).toEqual(['member_operation', 'member_operation']);
  expect(await kinds('dev-lab-1')).toEqual([]);
});

test('a node held for an operator after an RMA decision is refused, naming the hold, not waited on', async () => {
  const held = await stack.withWorker('gpu-fault-held', (taskQueue) => holdForOperator(stack, taskQueue, NEW_WORKER));
  expect(held.outcome).toBe('held_for_operator');
  await stack.lab.reset();

  const id = await runningInstance();
  const report = await addWorker(id);
  expect(report.outcome).toBe('escalated');
  expect(report.summary).toMatch(
    /dev-gpu-2 is held out of service by gpu-fault\/dev-gpu-2 \(gpu-fault-remediation, since .+\): .*budgets release --scope node\/dev-gpu-2/,
  );
  expect(report.steps.map((s) => s.name)).not.toContain('lease_disruption_slots');
  expect(await kinds(NEW_WORKER)).toEqual([]);
});
