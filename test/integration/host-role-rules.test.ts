/**
 * The seeds' host-role rules, enforced by the real activities before any connection:
 * each rule that refuses host actions refuses one here and its message quotes the
 * rule; a GPU validation job is refused to a run that does not hold the node's own
 * scope (cap 1). No refused host sees a command.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import { HOST_ROLE_RULES, ruleById } from '../../domain/host-role-rules';
import type { StepContext } from '../../domain/step-context';
import { connectStack, type Stack } from '../support/harness';

let stack: Stack;
let acts: ReturnType<Stack['activities']>;

beforeAll(async () => {
  stack = await connectStack();
  acts = stack.activities();
  // The diag's slot check asks the node's ledger, which an earlier suite may have started: its workers must be up.
  await stack.startLedgers();
});
afterAll(async () => stack?.close());

const ctx = (nodeId: string): StepContext => ({
  workflow_id: 'host-role-rules/probe',
  run_id: 'r1',
  runbook: 'gpu-fault-remediation',
  correlation_id: 'host-role-rules',
  step: 'role_probe',
  idempotency_key: `host-role-rules/${nodeId}/${Date.now()}`,
  node_id: nodeId,
});

/** The refusal quotes the rule's own words and names it. */
function citing(id: string) {
  const rule = ruleById(id);
  return { type: 'HostRoleViolation', message: expect.stringContaining(`rule ${id}: “${rule.quote}”`) };
}

test('every rule that refuses host actions refuses one through the real activities, quoting the rule, before any SSH', async () => {
  await stack.lab.reset();
  const env = new MockActivityEnvironment();
  const refusals: [string, () => Promise<unknown>][] = [
    ['no-destructive-hardware-on-platform-control', () => env.run(acts.rebootHostAndWait, ctx('dev-control-1'), 'boot-1', 1_000, 100)],
    ['worker-duties-on-workers', () => env.run(acts.readGpuObservations, ctx('dev-lab-1'))],
    ['app-recovery-stays-off-gpu', () => env.run(acts.installControllerBuild, ctx('dev-gpu-1'), '1.5.0')],
    ['no-control-daemons-on-gpu', () => env.run(acts.readReplicaJournal, ctx('dev-gpu-1'), 0)],
    ['platform-apps-off-platform-control', () => env.run(acts.readControllerState, ctx('dev-control-1'))],
  ];
  for (const [id, refusal] of refusals) await expect(refusal()).rejects.toMatchObject(citing(id));
  // Each rule with actions to refuse is exercised above.
  expect(refusals.map(([id]) => id).sort()).toEqual(
    HOST_ROLE_RULES.filter((r) => r.refuses)
      .map((r) => r.id)
      .sort(),
  );
  for (const node of ['dev-lab-1', 'dev-gpu-1', 'dev-control-1']) expect((await stack.lab.records(node)).commands).toEqual([]);
});

test('a GPU validation job is refused to a run that does not hold the node (serialized pipelines, cap 1); the worker sees no command', async () => {
  await stack.lab.reset();
  const env = new MockActivityEnvironment();
  await expect(env.run(acts.runGpuDiag, ctx('dev-gpu-1'), 1, 50)).rejects.toMatchObject({
    ...citing('gpu-validation-serialized'),
    nonRetryable: true,
  });
  expect((await stack.lab.records('dev-gpu-1')).commands).toEqual([]);
});
