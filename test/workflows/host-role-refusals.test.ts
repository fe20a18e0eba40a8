/**
 * Each runbook that targets a node, started on a host whose role forbids what it
 * would do: refused in its check_host_role pre-check with HostRoleViolation quoting
 * the seed's rule, before any SSH to that host.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ruleById } from '../../domain/host-role-rules';
import { connectStack, type Stack } from '../support/harness';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

const cases: [string, string, Record<string, unknown>, string][] = [
  ['gpuFaultRemediation', 'gpu-fault/dev-control-1', { node_id: 'dev-control-1', xid: 48, gpu_index: 0 }, 'no-destructive-hardware-on-platform-control'],
  ['gpuFaultRemediation', 'gpu-fault/dev-lab-1', { node_id: 'dev-lab-1', xid: 79, gpu_index: 0 }, 'worker-duties-on-workers'],
  ['gpuHealthCheck', 'gpu-health-check/dev-lab-1', { node_id: 'dev-lab-1' }, 'worker-duties-on-workers'],
  [
    'gpuDriverUpgrade',
    'gpu-driver-upgrade/dev-control-1',
    { node_id: 'dev-control-1', package: 'nvidia-driver-550-server=550.127.08-0ubuntu1', driver_version: '550.127.08' },
    'no-destructive-hardware-on-platform-control',
  ],
];

test.each(cases)('%s on %s is refused before any SSH, quoting rule %s', async (workflowType, workflowId, input, rule) => {
  await stack.lab.reset();
  const err = await stack.withWorker('role-refusal', (taskQueue) =>
    stack.client.workflow
      .execute(workflowType, { taskQueue, workflowId: `${workflowId}/role-${Date.now()}`, args: [{ correlation_id: 'role-refusal', ...input }] })
      .then(
        () => undefined,
        (e: unknown) => e,
      ),
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause as ApplicationFailure;
  expect(cause.type).toBe('HostRoleViolation');
  expect(cause.message).toContain(`rule ${rule}: “${ruleById(rule).quote}”`);
  expect((await stack.lab.records(String(input.node_id))).commands).toEqual([]);
});
