/**
 * Alert storms through the HTTP API against the real stack: repeats are coalesced in the
 * ledger (no signal), new information is signalled once, a closed run answers repeats
 * during its cool-down, and approvals and cancels work whatever arrived before.
 */
import type { Worker } from '@temporalio/worker';
import { gpuFaultWorkflowId } from '../../runbooks/gpu-fault-remediation/input';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { clearAlertLedger, startApi, type ApiAnswer, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-1';
const WORKFLOW_ID = gpuFaultWorkflowId(NODE);
/** Long enough that a run waiting for an approval is still waiting when the test decides. */
const PATIENT = { approval_timeout: '10m' };
let stack: Stack;
let api: RunningApi;
/** A second API process on the same database and Temporal: it shares nothing with the first but the ledger. */
let api2: RunningApi;
let taskQueue: string;
let worker: Worker;
let workerRun: Promise<void>;

beforeAll(async () => {
  stack = await connectStack();
  taskQueue = uniqueTaskQueue('storm');
  worker = await stack.worker(taskQueue);
  workerRun = worker.run();
  api = await startApi(stack, taskQueue);
  api2 = await startApi(stack, taskQueue);
});
afterAll(async () => {
  await api?.close();
  await api2?.close();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await workerRun;
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});
afterEach(async () => {
  // Leave no run open for the next test.
  const d = await stack.client.workflow
    .getHandle(WORKFLOW_ID)
    .describe()
    .catch(() => undefined);
  if (d?.status.name === 'RUNNING') {
    await api.call('POST', `/api/v1/runs/${encodeURIComponent(WORKFLOW_ID)}/cancel`, { reason: 'cleanup' });
    await api.waitForRun(`/api/v1/runs/${encodeURIComponent(WORKFLOW_ID)}`, (r) => r.execution_status !== 'RUNNING', 'cleanup cancel');
  }
});

/** The gpuAlert signals in the run's history, as sent. */
async function gpuAlertSignals(runId: string): Promise<{ xid?: number; gpu_index?: number }[]> {
  const history = await stack.client.workflow.getHandle(WORKFLOW_ID, runId).fetchHistory();
  const converter = stack.client.options.loadedDataConverter.payloadConverter;
  return (history.events ?? [])
    .filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'gpuAlert')
    .map((e) => converter.fromPayload(e.workflowExecutionSignaledEventAttributes!.input!.payloads![0]!));
}

/** `count` triggers, `concurrency` in flight, body by index; answers in index order. */
async function storm(
  count: number,
  concurrency: number,
  body: (i: number) => Record<string, unknown>,
  via: (i: number) => RunningApi = () => api,
): Promise<ApiAnswer[]> {
  const answers: ApiAnswer[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = next++; i < count; i = next++) answers[i] = await via(i).trigger(body(i));
    }),
  );
  return answers;
}

function tally(answers: ApiAnswer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) {
    const k = `${a.status} ${a.body.alert ?? a.body.error?.code}`;
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}

async function waitForApproval(statusUrl: string, step: string) {
  return api.waitForRun(statusUrl, (r) => r.status?.pending_approval?.step === step, step);
}

test('identical alerts are coalesced without a signal; a new Xid is signalled once; two API processes agree', async () => {
  await stack.lab.injectXid(NODE, 2, 48, true); // persistent: the run stays open, waiting for an RMA approval
  const first = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 2, ...PATIENT });
  expect({ status: first.status, alert: first.body.alert }).toEqual({ status: 201, alert: 'started' });
  const runId = first.body.run_id;

  const repeats = await storm(
    40,
    10,
    (i) => ({ node_id: NODE, xid: 48, gpu_index: 2, source: `monitor-${i}` }),
    (i) => (i % 2 ? api2 : api),
  );
  expect(tally(repeats)).toEqual({ '200 coalesced': 40 });
  expect(repeats.every((a) => a.body.deduplicated === true && a.body.run_id === runId && a.body.workflow_id === WORKFLOW_ID)).toBe(true);

  // Ten copies of a new Xid race over both processes: one is delivered, nine coalesced.
  const newXid = await storm(
    10,
    10,
    (i) => ({ node_id: NODE, xid: 63, gpu_index: 2, source: `dcgm-${i}` }),
    (i) => (i % 2 ? api2 : api),
  );
  expect(tally(newXid)).toEqual({ '200 delivered': 1, '200 coalesced': 9 });

  // A signal that arrives while a workflow task runs enters the history when that task completes.
  const signals = await eventually(async () => {
    const found = await gpuAlertSignals(runId);
    return found.length > 0 ? found : undefined;
  }, 'the gpuAlert signal in the history');
  expect(signals).toEqual([expect.objectContaining({ xid: 63, gpu_index: 2 })]);
  const status = await api.call('GET', first.body.status_url);
  expect(status.body.run_id).toBe(runId);
  expect(status.body.alerts).toEqual({ received: 51, delivered: 1, coalesced: 49, over_cap: 0, cooldown: 0 });
  // The second process reports the same counts: they live in PostgreSQL.
  expect((await api2.call('GET', first.body.status_url)).body.alerts).toEqual(status.body.alerts);
});

test('12,000 triggers for a run waiting on an approval: at most 20 signals, then the approval is accepted and the run proceeds', async () => {
  await stack.lab.injectXid(NODE, 3, 48);
  await stack.lab.stickDrain(NODE);
  const first = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 3, drain_timeout: '1s', ...PATIENT });
  expect(first.status).toBe(201);
  const runId = first.body.run_id;
  await waitForApproval(first.body.status_url, 'approve_force_drain');

  // Mostly the same alert, plus 30 distinct Xids: 20 reach the run, 10 are over the cap.
  const DISTINCT_EVERY = 400;
  const answers = await storm(12_000, 32, (i) =>
    i % DISTINCT_EVERY === 0
      ? { node_id: NODE, xid: 100 + i / DISTINCT_EVERY, gpu_index: 3, source: 'storm' }
      : { node_id: NODE, xid: 48, gpu_index: 3, source: `storm-${i % 7}` },
  );
  expect(tally(answers)).toEqual({ '200 coalesced': 11_970, '200 delivered': 20, '200 over_cap': 10 });
  expect(new Set(answers.map((a) => a.body.run_id))).toEqual(new Set([runId]));
  expect(await eventually(async () => ((await gpuAlertSignals(runId)).length >= 20 ? gpuAlertSignals(runId) : undefined), '20 signals')).toHaveLength(20);

  const waiting = await api.call('GET', first.body.status_url);
  expect(waiting.body.alerts).toEqual({ received: 12_001, delivered: 20, coalesced: 11_970, over_cap: 10, cooldown: 0 });
  expect(waiting.body.status.pending_approval.step).toBe('approve_force_drain');

  const approved = await api.as('alice', 'POST', `${first.body.status_url}/approvals`, { decision: 'approve', reason: 'evict after the storm' });
  expect(approved.body).toMatchObject({ state: 'approved', actor: 'alice', min_approvals: 1 });
  const proceeded = await api.waitForRun(
    first.body.status_url,
    (r) => r.status.steps.some((s: { name: string; status: string }) => s.name === 'evict_allocations' && s.status === 'completed'),
    'evict_allocations after the approval',
  );
  expect(proceeded.run_id).toBe(runId);
  expect(proceeded.status.approvals).toEqual([expect.objectContaining({ step: 'approve_force_drain', decision: 'approve', actor: 'alice' })]);
});

test('cancel works after a storm', async () => {
  await stack.lab.injectXid(NODE, 5, 48, true);
  const first = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 5, ...PATIENT });
  expect(first.status).toBe(201);
  await waitForApproval(first.body.status_url, 'approve_rma');
  const answers = await storm(3_000, 32, (i) => ({ node_id: NODE, xid: 48 + (i % 40), gpu_index: 5, source: 'storm' }));
  expect(answers.every((a) => a.status === 200)).toBe(true);

  const cancel = await api.call('POST', `${first.body.status_url}/cancel`, { reason: 'after the storm' });
  expect(cancel.status).toBe(202);
  const cancelled = await api.waitForRun(first.body.status_url, (r) => r.execution_status === 'CANCELLED', 'cancelled');
  expect(cancelled.run_id).toBe(first.body.run_id);
});

test('cool-down: a repeat after the run closed is answered with that run; a new Xid starts a new run; after the cool-down a repeat starts one', async () => {
  await stack.lab.injectXid(NODE, 1, 48, true);
  const first = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 1, ...PATIENT });
  expect(first.status).toBe(201);
  await closeByCancel(first.body.status_url);

  const repeat = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 1, source: 'late-monitor' });
  expect(repeat.status).toBe(200);
  expect(repeat.body).toMatchObject({ alert: 'cooldown', deduplicated: true, workflow_id: WORKFLOW_ID, run_id: first.body.run_id });
  // Another GPU but the same Xid, and an alert with no Xid at all: nothing the run did not see.
  expect((await api2.trigger({ node_id: NODE, xid: 48, gpu_index: 6 })).body).toMatchObject({ alert: 'cooldown', run_id: first.body.run_id });
  expect((await api.trigger({ node_id: NODE })).body).toMatchObject({ alert: 'cooldown', run_id: first.body.run_id });
  // No new run: Temporal's latest run for the node is still the closed one.
  expect((await stack.client.workflow.getHandle(WORKFLOW_ID).describe()).runId).toBe(first.body.run_id);
  expect((await api.call('GET', first.body.status_url)).body.alerts).toEqual({ received: 4, delivered: 0, coalesced: 0, over_cap: 0, cooldown: 3 });

  // An Xid the closed run never saw is new information.
  const fresh = await api.trigger({ node_id: NODE, xid: 79, gpu_index: 1, ...PATIENT });
  expect({ status: fresh.status, alert: fresh.body.alert }).toEqual({ status: 201, alert: 'started' });
  expect(fresh.body.run_id).not.toBe(first.body.run_id);
  await closeByCancel(fresh.body.status_url);

  // Past the cool-down (1 ms for this API) the same alert starts a run again.
  const impatient = await startApi(stack, taskQueue, { alertCooldownMs: 1 });
  try {
    const again = await impatient.trigger({ node_id: NODE, xid: 79, gpu_index: 1, ...PATIENT });
    expect({ status: again.status, alert: again.body.alert }).toEqual({ status: 201, alert: 'started' });
    expect(again.body.run_id).not.toBe(fresh.body.run_id);
    await closeByCancel(again.body.status_url);
  } finally {
    await impatient.close();
  }
});

/** Closes the run the way an operator would: once it waits for the RMA approval, cancel it. */
async function closeByCancel(statusUrl: string): Promise<void> {
  await waitForApproval(statusUrl, 'approve_rma');
  expect((await api.call('POST', `${statusUrl}/cancel`, { reason: 'close for the cool-down test' })).status).toBe(202);
  await api.waitForRun(statusUrl, (r) => r.execution_status === 'CANCELLED', 'cancelled');
}
