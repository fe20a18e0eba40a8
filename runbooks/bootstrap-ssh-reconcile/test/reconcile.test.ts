/**
 * bootstrap-ssh-reconcile against the lab: a healthy agent reconciles at once; an offline
 * agent leaves the node task queued until the runbook repairs it on the worker; the
 * managed key lands and no other key line moves.
 */
import type { RunReport } from '../../../domain/runbook';
import type { AppRuntimeFault } from '../../../lab/admin-client';
import { connectStack, type Stack } from '../../../test/support/harness';
import { bootstrapSshReconcileWorkflowId } from '../input';

const WORKER = 'dev-gpu-1';
const PROJECT = 'proj-lab';
const FAST = { converge_timeout: '3s', poll_interval: '100ms' } as const;

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
});

async function reconcile(faults: AppRuntimeFault[], extra: Record<string, unknown> = {}): Promise<RunReport> {
  const { instance } = await stack.lab.createDeployingInstance({ projectId: PROJECT, controllerNodeId: WORKER, faults });
  return stack.withWorker('bootstrap-ssh', async (taskQueue) => {
    const handle = await stack.client.workflow.start('bootstrapSshReconcile', {
      taskQueue,
      workflowId: `${bootstrapSshReconcileWorkflowId(instance.id)}/${Date.now()}`,
      args: [{ project_id: PROJECT, app_instance_id: instance.id, ...FAST, ...extra }],
    });
    return handle.result();
  });
}

async function changedOnWorker(): Promise<string[]> {
  return (await stack.lab.records(WORKER)).mutations.filter((m) => m.applied).map((m) => m.kind);
}

test('a connected agent: the task completes, the managed key is in place, nothing else changed on the worker', async () => {
  const report = await reconcile([]);
  expect(report.outcome).toBe('reconciled');
  expect(report.summary).toContain('other keys untouched');
  expect(report.steps.map((s) => s.name)).not.toContain('diagnose_node_agent');
  expect(await changedOnWorker()).toEqual(['bootstrap_ssh_reconcile']);
});

test('an agent offline behind an unresolvable name: the task stays queued, the agent is repaired, the reconcile completes', async () => {
  const report = await reconcile([{ fault: 'node_api_unreachable' }]);
  expect(report.outcome).toBe('reconciled');
  expect(report.summary).toContain('node-agent repaired first: node_api_unreachable');
  const names = report.steps.map((s) => s.name);
  expect(names.indexOf('diagnose_node_agent')).toBeLessThan(names.indexOf('restore_node_api_mapping'));
  expect(names.filter((n) => n === 'reconcile_bootstrap_ssh')).toHaveLength(2);
  expect(report.steps.find((s) => s.name === 'reconcile_bootstrap_ssh_task')?.detail).toMatch(/queued/);
});

test('a stopped agent is started, then the queued task is dispatched', async () => {
  const report = await reconcile([{ fault: 'agent_stopped' }]);
  expect(report.outcome).toBe('reconciled');
  expect(report.steps.map((s) => s.name)).toContain('restart_node_agent');
});

test('plan mode changes nothing', async () => {
  const report = await reconcile([], { run_mode: 'plan' });
  expect(report.outcome).toBe('planned');
  expect(await changedOnWorker()).toEqual([]);
});
