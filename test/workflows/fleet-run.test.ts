/**
 * Multi-target runs (engine/fleet-run.ts) on the real dev server: a real
 * runbook over the lab's workers through the API, the error threshold, and a
 * 1,000-target run that continues as new.
 */
import { bundleWorkflowCode, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { FleetRunInput, FleetRunReport } from '../../domain/fleet-run';
import { createRunbookWorker } from '../../workers/worker';
import { startApi } from '../e2e/api-harness';
import { connectStack, uniqueTaskQueue, type Stack } from '../support/harness';
import type { ProbeInput } from './fixtures/fleet-workflows';

let stack: Stack;
let probeBundle: WorkflowBundleWithSourceMap;

beforeAll(async () => {
  stack = await connectStack();
  probeBundle = await bundleWorkflowCode({ workflowsPath: require.resolve('./fixtures/fleet-workflows') });
});
afterAll(async () => stack?.close());

/** A fleet run of probes on a worker of their own. */
async function probeRun(name: string, probes: ProbeInput[], limits: Pick<FleetRunInput, 'max_concurrency' | 'max_errors'>) {
  const taskQueue = uniqueTaskQueue(name);
  const worker = await createRunbookWorker({
    connection: stack.nativeConnection,
    namespace: 'default',
    taskQueue,
    tracing: stack.tracing,
    shutdownGraceMs: 1_000,
    workflowBundle: probeBundle,
  });
  const workflowId = `fleet/probe/${taskQueue}`;
  const input: FleetRunInput = {
    runbook: 'probe',
    child_workflow_type: 'fleetProbe',
    targets: probes.map((p, i) => ({ node_id: `n${i}`, workflow_id: `probe/${taskQueue}/n${i}`, input: p })),
    correlation_id: taskQueue,
    ...limits,
  };
  const report = await worker.runUntil(stack.client.workflow.execute('fleetRun', { taskQueue, workflowId, args: [input] }) as Promise<FleetRunReport>);
  return { report, workflowId };
}

test('gpu-health-check over a rack through the API: two at a time, every target and its outcome in the status and the report', async () => {
  await stack.lab.reset();
  const taskQueue = uniqueTaskQueue('fleet-api');
  const worker = await stack.worker(taskQueue);
  const api = await startApi(stack, taskQueue);
  try {
    await worker.runUntil(async () => {
      const refused = await api.call('POST', '/api/v1/runbooks/gpu-health-check/fleet-runs', { node_ids: ['dev-gpu-1', 'dev-control-1', 'dev-gpu-77'] });
      expect(refused.status).toBe(422);
      expect(refused.body.error).toMatchObject({
        code: 'invalid_targets',
        details: { targets: { 'dev-control-1': 'host_role_violation: platform_control', 'dev-gpu-77': 'node_not_found' } },
      });

      const started = await api.call('POST', '/api/v1/runbooks/gpu-health-check/fleet-runs', { label: { rack: 'rack-1' }, max_concurrency: 2 });
      expect(started.status).toBe(201);
      expect(started.body).toMatchObject({ runbook: 'gpu-health-check', targets: 4 });
      const done = await api.waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'the fleet run to finish');
      expect(done.status.counts).toEqual({ pending: 0, running: 0, completed: 4, failed: 0, not_started: 0 });
      expect(done.status.targets).toEqual(
        ['dev-gpu-1', 'dev-gpu-2', 'dev-gpu-3', 'dev-gpu-4'].map((n) => ({
          node_id: n,
          workflow_id: `gpu-health-check/${n}`,
          state: 'completed',
          outcome: 'healthy',
        })),
      );
      const report = (await stack.client.workflow.getHandle(started.body.workflow_id).result()) as FleetRunReport;
      expect(report.outcome).toBe('completed');
    });
  } finally {
    await api.close();
  }
});

test('past max_errors no more targets start; those in flight finish; never more than max_concurrency at once', async () => {
  // 12 targets, 3 at a time; targets 1 and 4 fail; one failure is tolerated, the second stops the dispatch.
  const probes = Array.from({ length: 12 }, (_, i) => ({ hold_ms: 300, fail: i === 1 || i === 4 }));
  const { report, workflowId } = await probeRun('fleet-errors', probes, { max_concurrency: 3, max_errors: { count: 1 } });
  expect(report.outcome).toBe('stopped_at_error_threshold');
  expect(report.stopped_at_threshold).toBe(true);
  expect(report.counts.failed).toBe(2);
  expect(report.targets[1]).toMatchObject({ state: 'failed', outcome: 'ProbeFailed' });
  expect(report.counts.not_started).toBeGreaterThan(0);
  expect(report.counts.completed + report.counts.failed + report.counts.not_started).toBe(12);
  // Dispatch is in order: nothing after a not-started target ran.
  const firstIdle = report.targets.findIndex((t) => t.state === 'not_started');
  expect(report.targets.slice(firstIdle).every((t) => t.state === 'not_started')).toBe(true);
  // The children as Temporal saw them: never more than three open at once.
  const prefix = `probe/${workflowId.split('/').pop()}/`;
  const edges: [number, number][] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowType = 'fleetProbe'` })) {
    if (wf.workflowId.startsWith(prefix)) edges.push([wf.startTime.getTime(), 1], [wf.closeTime!.getTime(), -1]);
  }
  expect(edges.length / 2).toBe(report.counts.completed + report.counts.failed);
  let open = 0;
  let most = 0;
  for (const [, d] of edges.sort((a, b) => a[0] - b[0] || a[1] - b[1])) most = Math.max(most, (open += d));
  expect(most).toBeLessThanOrEqual(3);
  expect(most).toBeGreaterThan(1);
});

test('1,000 targets complete across several executions, each under 10,000 events', async () => {
  const { report, workflowId } = await probeRun(
    'fleet-1000',
    Array.from({ length: 1000 }, () => ({})),
    { max_concurrency: 50, max_errors: { percent: 1 } },
  );
  expect(report.outcome).toBe('completed');
  expect(report.counts.completed).toBe(1000);
  expect(report.generation).toBeGreaterThan(0);
  const executions: number[] = [];
  for await (const wf of stack.client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) {
    executions.push((await stack.client.workflow.getHandle(wf.workflowId, wf.runId).describe()).historyLength);
  }
  expect(executions.length).toBe(report.generation + 1);
  expect(Math.max(...executions)).toBeLessThan(10_000);
}, 600_000);
