/**
 * The engine itself in the lab: a real worker process started with LOKI_PUSH_URL
 * ships its own log lines to the lab's Loki, and a later triage of the same
 * correlation_id finds them through its `engine` query, read as the engine's
 * account (what it ran on which host, named in the line's fields) that leaves the
 * diagnosis as the platform's evidence made it.
 */
import { LokiClient } from '../../../capabilities/observability-query/loki-client';
import { correlationQueries } from '../../../capabilities/triage/requests';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { testEnv } from '../../../test/support/test-env';
import { spawnWorker, stopWorker, type WorkerProcess } from '../../../test/support/worker-process';
import { incidentTriageWorkflowId } from '../input';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

async function triageOn(taskQueue: string, correlationId: string, traceId: string): Promise<RunReport> {
  const handle = await stack.client.workflow.start('incidentTriage', {
    taskQueue,
    workflowId: incidentTriageWorkflowId(correlationId),
    args: [{ correlation_id: correlationId, trace_id: traceId, lookback: '1h' }],
  });
  return (await handle.result()) as RunReport;
}

const queriesOf = (r: RunReport) => r.steps.find((s) => s.name === 'query_correlated_logs')?.detail ?? '';

test("a worker process's own lines reach the lab's Loki and the next triage of that correlation_id finds them", async () => {
  await stack.lab.reset();
  const incident = await stack.lab.injectIncident({ scenario: 'chain-registry-controller-worker' });
  const taskQueue = uniqueTaskQueue('engine-logs');
  let worker: WorkerProcess | undefined;
  let first: RunReport;
  try {
    const lab = testEnv('platformUrl');
    worker = spawnWorker(taskQueue, { LOKI_URL: lab, TEMPO_URL: lab, LOKI_PUSH_URL: lab, LOKI_PUSH_INTERVAL: '200ms' });
    await worker.ready;
    expect(worker.output()).toContain('"msg":"shipping log lines to Loki"');
    first = await triageOn(taskQueue, incident.correlation_id, incident.trace_id);
  } finally {
    // SIGTERM: the worker drains, then sends what it still buffers before it exits.
    await stopWorker(worker);
  }

  const loki = new LokiClient({ baseUrl: testEnv('platformUrl'), timeoutMs: 5_000 });
  const engineLines = await loki.queryRange({
    query: correlationQueries(incident.correlation_id).find((q) => q.name === 'engine')!.logql,
    start: new Date(Date.now() - 600_000),
    end: new Date(Date.now() + 1_000),
    limit: 1000,
  });
  // The workflow's own lines, as the process logged them, each under the worker's service.
  expect(engineLines.map((e) => e.msg)).toEqual(expect.arrayContaining(['phase pre_checks', 'phase procedure', 'run finished: boundary_identified']));
  expect(new Set(engineLines.map((e) => e.service))).toEqual(new Set(['gpuaas-runbooks-worker']));
  expect(engineLines.every((e) => e.level === 'info')).toBe(true);
  // A line about a host (the boundary validation's `ps`) names it and its role in its fields: the engine's account of what it read.
  const hostsReadBy = (msg: string) => new Set(engineLines.filter((e) => e.msg === msg).map((e) => `${e.host_name} ${e.host_role}`));
  expect(hostsReadBy('running command')).toEqual(new Set(['dev-control-1 platform_control', 'dev-lab-1 app_control', 'dev-gpu-1 worker_compute']));

  const second = await stack.withWorker('engine-logs-reread', (tq) => triageOn(tq, incident.correlation_id, incident.trace_id));
  expect(queriesOf(second)).toMatch(new RegExp(`, engine ${engineLines.length}$`));
  // The first triage read before most of its own lines were written (at most its first phase's had been shipped).
  const engineCount = (r: RunReport) => Number(/, engine (\d+)$/.exec(queriesOf(r))?.[1]);
  expect(engineCount(first)).toBeLessThan(engineCount(second));
  expect(second.outcome).toBe(first.outcome);
  expect(second.summary).toBe(first.summary);
});
