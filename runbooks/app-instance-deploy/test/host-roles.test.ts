/**
 * The host-role boundary of the platform-app activities, checked before any connection:
 * a node-agent repair aimed at the app_control host and a controller change aimed at a
 * GPU worker are refused with HostRoleViolation, and neither host sees a command.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import type { StepContext } from '../../../domain/step-context';
import { connectStack, type Stack } from '../../../test/support/harness';

let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

const ctx = (nodeId: string): StepContext => ({
  workflow_id: 'app-instance-deploy/proj-lab/roles',
  run_id: 'r1',
  runbook: 'app-instance-deploy',
  correlation_id: 'roles',
  step: 'role_probe',
  idempotency_key: `roles/${nodeId}/${Date.now()}`,
  node_id: nodeId,
});

test('a node-agent repair on app_control and a controller install on a worker are refused before any SSH', async () => {
  await stack.lab.reset();
  const acts = stack.activities();
  const env = new MockActivityEnvironment();
  await expect(env.run(acts.restoreNodeApiMapping, ctx('dev-lab-1'), 'node-api.example', '10.0.0.1')).rejects.toMatchObject({
    type: 'HostRoleViolation',
    message: expect.stringContaining('its role is app_control'),
  });
  await expect(env.run(acts.reenrollAgent, ctx('dev-lab-1'))).rejects.toMatchObject({ type: 'HostRoleViolation' });
  // On the control host a node-agent repair is refused as the destructive change it is, not as the read it starts with.
  for (const repair of [
    () => env.run(acts.restoreNodeApiMapping, ctx('dev-control-1'), 'node-api.example', '10.0.0.1'),
    () => env.run(acts.reenrollAgent, ctx('dev-control-1')),
  ])
    await expect(repair()).rejects.toMatchObject({
      type: 'HostRoleViolation',
      message: expect.stringMatching(/repair_node_agent runs only on worker_compute hosts; rule no-destructive-hardware-on-platform-control/),
    });
  await expect(env.run(acts.installControllerBuild, ctx('dev-gpu-1'), '1.5.0')).rejects.toMatchObject({
    type: 'HostRoleViolation',
    message: expect.stringContaining('its role is worker_compute'),
  });
  await expect(env.run(acts.readControllerState, ctx('dev-control-1'))).rejects.toMatchObject({ type: 'HostRoleViolation' });
  for (const node of ['dev-lab-1', 'dev-gpu-1', 'dev-control-1']) expect((await stack.lab.records(node)).commands).toEqual([]);
});
