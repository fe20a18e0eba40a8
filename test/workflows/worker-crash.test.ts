import type { WorkflowHandle } from '@temporalio/client';
import { statusQuery } from '../../domain/messages';
import { appInstanceDeployWorkflowId } from '../../runbooks/app-instance-deploy/input';
import type { RunReport } from '../../domain/runbook';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { testEnv } from '../support/test-env';
import { exited, spawnWorker, stopWorker, type WorkerProcess } from '../support/worker-process';
import { clearHistory, startGpuFault } from '../../runbooks/gpu-fault-remediation/test/scenarios';

const NODE = 'dev-gpu-3';
let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
  // The spawned workers lease nodes from ledgers this process runs.
  await stack.startLedgers();
});
afterAll(async () => stack?.close());

test('worker SIGKILLed mid-drain and restarted → run completes with exactly one cordon and one uncordon', async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await stack.lab.injectXid(NODE, 1, 48);
  await stack.lab.stickDrain(NODE);
  const taskQueue = uniqueTaskQueue('crash');

  const first = spawnWorker(taskQueue);
  let second: WorkerProcess | undefined;
  try {
    await first.ready;
    const handle = await startGpuFault(stack, taskQueue, { node_id: NODE, drain_timeout: '2m', poll_interval: '200ms' });
    await eventually(async () => ((await handle.query(statusQuery)).current_step === 'wait_for_drain' ? true : undefined), 'the drain wait');
    expect(await stack.lab.applied(NODE, 'cordon')).toBe(1);

    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(first.child.signalCode).toBe('SIGKILL');

    // The tenant's jobs end while no worker is alive.
    const evict = await fetch(`${testEnv('platformUrl')}/api/v1/nodes/${NODE}/allocations/evict`, {
      method: 'POST',
      headers: { authorization: `Bearer ${testEnv('platformToken')}`, 'content-type': 'application/json', 'idempotency-key': `test-evict-${Date.now()}` },
      body: JSON.stringify({ reason: 'jobs finished while the worker was down' }),
    });
    expect(evict.status).toBe(200);

    second = spawnWorker(taskQueue);
    await second.ready;
    const report: RunReport = await handle.result();
    expect(report.outcome).toBe('returned_to_service');
    expect(await stack.lab.applied(NODE, 'cordon')).toBe(1);
    expect(await stack.lab.applied(NODE, 'uncordon')).toBe(1);
    expect(await stack.lab.applied(NODE, 'reset_gpu')).toBe(1);
    // The drain wait was retried on the new worker after the heartbeat timeout.
    const waits = (await handle.fetchHistory()).events!.filter(
      (e) => e.activityTaskStartedEventAttributes && e.activityTaskStartedEventAttributes.attempt! > 1,
    );
    expect(waits.length).toBeGreaterThanOrEqual(1);
  } finally {
    for (const w of [first, second]) await stopWorker(w);
  }
});

/** Starts a worker, runs `during` while the run is in `step`, stops the worker with `signal`, then finishes on a second worker. */
async function interruptDuring(
  step: string | string[],
  signal: NodeJS.Signals,
  start: (taskQueue: string) => Promise<WorkflowHandle>,
  env: Record<string, string> = {},
): Promise<RunReport> {
  const steps = Array.isArray(step) ? step : [step];
  const taskQueue = uniqueTaskQueue('interrupt');
  const first = spawnWorker(taskQueue, env);
  let second: WorkerProcess | undefined;
  try {
    await first.ready;
    const handle = await start(taskQueue);
    await eventually(
      async () => (steps.includes((await handle.query(statusQuery)).current_step ?? '') ? true : undefined),
      `step ${steps.join(' or ')}`,
      60_000,
      20,
    );
    first.child.kill(signal);
    await exited(first.child);
    second = spawnWorker(taskQueue, env);
    await second.ready;
    return await handle.result();
  } finally {
    for (const w of [first, second]) await stopWorker(w);
  }
}

test('worker SIGKILLed while a diag runs → the next worker reattaches to it; one diag ran', async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await stack.lab.injectXid(NODE, 2, 48);
  const report = await interruptDuring('run_gpu_diag', 'SIGKILL', (tq) => startGpuFault(stack, tq, { node_id: NODE, diag_level: 3, poll_interval: '300ms' }));
  expect(report.outcome).toBe('returned_to_service');
  const records = (await stack.lab.records(NODE)) as unknown as { processes: { command: string }[] };
  expect(records.processes.filter((p) => p.command.startsWith('dcgmi diag'))).toHaveLength(1);
});

test('SIGTERM during a GPU reset is not a failed reset: no reboot, the run completes on the next worker', async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await stack.lab.injectXid(NODE, 2, 48);
  // No grace: the reset attempt is interrupted mid-wait, the hardest case.
  const report = await interruptDuring('reset_gpu2', 'SIGTERM', (tq) => startGpuFault(stack, tq, { node_id: NODE, poll_interval: '2s' }), {
    WORKER_SHUTDOWN_GRACE: '1ms',
  });
  expect(report.outcome).toBe('returned_to_service');
  expect(report.steps.find((s) => s.name === 'reset_gpu2')?.status).toBe('completed');
  expect(await stack.lab.applied(NODE, 'reset_gpu')).toBe(1);
  expect(await stack.lab.applied(NODE, 'reboot')).toBe(0);
});

test('worker SIGKILLed mid-recovery of the 3 → 4 → 5 chain → the next worker finishes it; each host change and the token mint happen once', async () => {
  await stack.lab.reset();
  const { instance } = await stack.lab.createDeployingInstance({
    projectId: 'proj-crash',
    controllerNodeId: 'dev-gpu-1',
    faults: [{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'stale_enrollment_token' }],
  });
  const report = await interruptDuring(['wait_for_node_agent', 'confirm_enrollment', 'wait_for_running'], 'SIGKILL', (tq) =>
    stack.client.workflow.start('appInstanceDeploy', {
      taskQueue: tq,
      workflowId: `${appInstanceDeployWorkflowId('proj-crash', instance.id)}/${Date.now()}`,
      args: [{ project_id: 'proj-crash', app_instance_id: instance.id, converge_timeout: '30s', poll_interval: '200ms' }],
    }),
  );
  expect(report.outcome).toBe('running');
  const changes = (await stack.lab.records('dev-gpu-1')).mutations.filter((m) => m.applied);
  const writes = changes.filter((m) => m.kind === 'file_write').map((m) => (m.detail as { path?: string } | undefined)?.path);
  expect(writes.sort()).toEqual(['/etc/gpuaas/node-agent.env', '/etc/hosts']);
  expect(changes.filter((m) => m.kind === 'file_move')).toHaveLength(2);
  expect(changes.filter((m) => m.kind === 'enrollment_token')).toHaveLength(1);
});
