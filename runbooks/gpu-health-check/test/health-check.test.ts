/**
 * gpu-health-check, the second runbook: added by its folder and its registry
 * lines alone, started through the same API and run by the same worker as
 * gpu-fault-remediation, against the lab over SSH.
 */
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { RunReport } from '../../../domain/runbook';
import { startApi, type RunningApi } from '../../../test/e2e/api-harness';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { gpuHealthCheckWorkflowId, type GpuHealthCheckRequest } from '../input';

const NODE = 'dev-gpu-4';
let stack: Stack;

beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());
beforeEach(async () => {
  await stack.lab.reset();
  await stack.pool.query('DELETE FROM alert_ledger WHERE workflow_id LIKE $1', ['gpu-health-check/%']);
  await stack.pool.query('DELETE FROM alert_runs WHERE workflow_id LIKE $1', ['gpu-health-check/%']);
});

async function check(req: GpuHealthCheckRequest): Promise<RunReport> {
  const taskQueue = uniqueTaskQueue('health-check');
  const worker = await stack.worker(taskQueue);
  return worker.runUntil(async () => {
    const handle = await stack.client.workflow.start('gpuHealthCheck', {
      taskQueue,
      workflowId: gpuHealthCheckWorkflowId(req.node_id),
      args: [{ correlation_id: `test-health-${Date.now()}`, ...req }],
    });
    return handle.result();
  });
}

/** What the node saw: every command it ran and every change applied to it. */
async function footprint(nodeId = NODE) {
  const r = await stack.lab.records(nodeId);
  return { commands: r.commands.map((c) => c.command.split(' ')[0]), mutations: r.mutations.filter((m) => m.applied).map((m) => m.kind) };
}

test('a healthy worker → healthy, having only read it', async () => {
  const report = await check({ node_id: NODE });
  expect(report.outcome).toBe('healthy');
  expect(report.summary).toBe(`${NODE}: all 8 GPUs visible and healthy`);
  expect(report.steps.map((s) => [s.name, s.phase, s.status])).toEqual([
    ['resolve_target', 'pre_checks', 'completed'],
    ['check_host_role', 'pre_checks', 'completed'],
    ['read_gpu_state', 'pre_checks', 'completed'],
    ['assess_health', 'verify', 'completed'],
  ]);
  // The boot id, the GPU table and the kernel log: reads only.
  expect(await footprint()).toEqual({ commands: ['cat', 'nvidia-smi', 'journalctl'], mutations: [] });
});

test('an uncorrectable ECC error → unhealthy, naming the GPU and both problems; still nothing changed', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  const report = await check({ node_id: NODE });
  expect(report.outcome).toBe('unhealthy');
  expect(report.summary).toBe(`${NODE}: GPU 3: 1 uncorrected ECC error(s); GPU 3: row remap pending (applied at the next GPU reset)`);
  expect((await footprint()).mutations).toEqual([]);
});

test('a lost GPU (Xid 79) → unhealthy: 7 of 8 visible', async () => {
  await stack.lab.injectXid(NODE, 6, 79);
  const report = await check({ node_id: NODE });
  expect(report.outcome).toBe('unhealthy');
  expect(report.summary).toMatch(/^dev-gpu-4: 7 of 8 GPUs visible; GPU [0-9a-f:.]+ lost$/i);
});

test('a control host is refused with HostRoleViolation before any SSH', async () => {
  const err = await check({ node_id: 'dev-control-1' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('HostRoleViolation');
  expect((await footprint('dev-control-1')).commands).toEqual([]);
});

describe('through the API, which knows it only from the registry', () => {
  let api: RunningApi;
  let taskQueue: string;
  let stopWorker: () => void;
  let workerDone: Promise<void>;

  beforeAll(async () => {
    taskQueue = uniqueTaskQueue('health-check-api');
    const worker = await stack.worker(taskQueue);
    workerDone = worker.run();
    stopWorker = () => worker.shutdown();
    // No cool-down: the checks above closed moments ago, and this test wants a fresh run.
    api = await startApi(stack, taskQueue, { alertCooldownMs: 0 });
  });
  afterAll(async () => {
    await api?.close();
    stopWorker?.();
    await workerDone;
  });

  test('start → 201 and the run completes; a repeat while it runs joins it; a control host → 422', async () => {
    const first = await api.call('POST', '/api/v1/runbooks/gpu-health-check/runs', { node_id: NODE });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ workflow_id: `gpu-health-check/${NODE}`, runbook: 'gpu-health-check' });
    const repeat = await api.call('POST', '/api/v1/runbooks/gpu-health-check/runs', { node_id: NODE, source: 'cron' });
    expect(repeat.status).toBe(200);
    expect(repeat.body).toMatchObject({ workflow_id: first.body.workflow_id, run_id: first.body.run_id, deduplicated: true });
    const done = await api.waitForRun(first.body.status_url, (r) => r.status?.outcome != null, 'the check to finish');
    expect(done.status.outcome).toBe('healthy');

    const refused = await api.call('POST', '/api/v1/runbooks/gpu-health-check/runs', { node_id: 'dev-control-1' });
    expect(refused.status).toBe(422);
    expect(refused.body.error.code).toBe('host_role_violation');
  });
});
