import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import type { Worker } from '@temporalio/worker';
import { clearAlertLedger, startApi, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-2';
const UNKNOWN_PLAN = 'f'.repeat(64);
let stack: Stack;
let api: RunningApi;
let worker: Worker;
let workerRun: Promise<void>;

beforeAll(async () => {
  stack = await connectStack();
  const taskQueue = uniqueTaskQueue('api');
  worker = await stack.worker(taskQueue);
  workerRun = worker.run();
  api = await startApi(stack, taskQueue);
});
afterAll(async () => {
  await api?.close();
  if (worker?.getState() === 'RUNNING') worker.shutdown();
  await workerRun;
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

const call = (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => api.call(method, path, body, headers);
const trigger = (body: Record<string, unknown>, headers?: Record<string, string>) => api.trigger(body, headers);
const waitForRun = (statusUrl: string, until: (run: any) => boolean, what: string) => api.waitForRun(statusUrl, until, what);

test('GET /healthz reports Temporal and the database', async () => {
  const r = await call('GET', '/healthz');
  expect(r.status).toBe(200);
  expect(r.body).toEqual({ status: 'ok', temporal: 'ok', database: 'ok' });
  expect(r.headers.get('x-correlation-id')).toBeTruthy();
});

test('bad requests get a 4xx envelope and start nothing', async () => {
  const before = await stack.client.workflow.count(`NodeId = '${NODE}'`);
  const cases: [string, string, unknown, number, string][] = [
    ['POST', '/api/v1/runbooks/no-such-runbook/runs', { node_id: NODE }, 404, 'unknown_runbook'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', {}, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: 'Bad Node!' }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, gpu_index: -1 }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, drain_timeout: 'forever' }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, unexpected: 1 }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, run_mode: 'plan', plan_hash: UNKNOWN_PLAN }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, plan_hash: 'abc' }, 400, 'invalid_input'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, plan_hash: UNKNOWN_PLAN }, 422, 'unknown_plan'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/fleet-runs', { node_ids: [NODE], input: { run_mode: 'plan' } }, 400, 'unsupported_run_mode'],
    ['GET', '/api/v1/plans/not-a-hash', undefined, 400, 'invalid_input'],
    ['GET', `/api/v1/plans/${UNKNOWN_PLAN}`, undefined, 404, 'plan_not_found'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', '{"node_id": ', 400, 'invalid_request'],
    ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', [NODE], 400, 'invalid_input'],
    ['GET', '/api/v1/runs?status=bogus', undefined, 400, 'invalid_input'],
    ['GET', `/api/v1/runs/${encodeURIComponent('gpu-fault/never-ran')}`, undefined, 404, 'run_not_found'],
    ['POST', `/api/v1/runs/${encodeURIComponent('gpu-fault/never-ran')}/approvals`, { decision: 'maybe', reason: 'y' }, 400, 'invalid_input'],
    ['POST', `/api/v1/runs/${encodeURIComponent('gpu-fault/never-ran')}/cancel`, { reason: '' }, 400, 'invalid_input'],
  ];
  for (const [method, path, body, status, code] of cases) {
    const r = await call(method, path, body, { 'x-correlation-id': 'bad-input-test' });
    expect({ path, body, status: r.status }).toEqual({ path, body, status });
    expect(r.body).toEqual({ error: { code, message: expect.any(String), details: expect.anything() }, correlation_id: 'bad-input-test' });
    expect(JSON.stringify(r.body)).not.toMatch(/at .*\.ts:\d+/); // no stack traces
  }
  const invalid = (await call('POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, gpu_index: 'three' })).body;
  expect(invalid.error.details.fields).toEqual([expect.objectContaining({ path: 'gpu_index' })]);
  expect(await stack.client.workflow.count(`NodeId = '${NODE}'`)).toEqual(before);
  expect((await stack.lab.records(NODE)).commands).toEqual([]);
});

test('20 concurrent triggers for one node → one workflow, 20 answers with its id', async () => {
  await stack.lab.injectXid(NODE, 2, 48, true); // persistent, so the run stays open waiting for RMA approval
  const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => trigger({ node_id: NODE, xid: 48, gpu_index: 2, source: `alert-${i}` })));
  const created = answers.filter((a) => a.status === 201);
  const joined = answers.filter((a) => a.status === 200);
  expect(created).toHaveLength(1);
  expect(joined).toHaveLength(19);
  expect(joined.every((a) => a.body.deduplicated === true)).toBe(true);
  expect(new Set(answers.map((a) => a.body.workflow_id))).toEqual(new Set([`gpu-fault/${NODE}`]));
  expect(new Set(answers.map((a) => a.body.run_id)).size).toBe(1);

  // The 19 repeats say nothing the starting alert did not: none is signalled, all are counted.
  expect(joined.every((a) => a.body.alert === 'coalesced')).toBe(true);
  const statusUrl = created[0]!.body.status_url;
  const waiting = await waitForRun(statusUrl, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval');
  expect(waiting.alerts).toEqual({ received: 20, delivered: 0, coalesced: 19, over_cap: 0, cooldown: 0 });
  const alerts = await stack.pool.query(`SELECT count(*)::int AS n FROM evidence WHERE kind = 'alert' AND workflow_id = $1 AND run_id = $2`, [
    `gpu-fault/${NODE}`,
    created[0]!.body.run_id,
  ]);
  expect(alerts.rows[0].n).toBe(0);
  const cancel = await call('POST', `${statusUrl}/cancel`, { reason: 'test cleanup' });
  expect(cancel.status).toBe(202);
  await waitForRun(statusUrl, (r) => r.execution_status === 'CANCELLED', 'cancelled');
});

test('plan over HTTP: a plan run answers with its plan, and a live run follows it only on the node it was made for', async () => {
  const started = await trigger({ node_id: NODE, run_mode: 'plan' });
  expect(started.status).toBe(201);
  expect(started.body.workflow_id).toMatch(new RegExp(`^gpu-fault/${NODE}/plan/[0-9a-f-]{36}$`));
  const planned = await waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'plan run');
  expect(planned.status.outcome).toBe('planned');
  const hash: string = planned.status.plan.plan_hash;
  // A healthy node: the plan is to end without touching anything.
  expect(planned.status.plan.lines).toEqual([`end: no_fault_found (no new Xid or memory fault on ${NODE})`]);
  const stored = await call('GET', `/api/v1/plans/${hash}`);
  expect(stored.status).toBe(200);
  expect(stored.body).toMatchObject({ plan_hash: hash, runbook: 'gpu-fault-remediation', node_id: NODE, workflow_id: started.body.workflow_id });

  const elsewhere = await trigger({ node_id: 'dev-gpu-3', plan_hash: hash });
  expect(elsewhere.status).toBe(422);
  expect(elsewhere.body.error.code).toBe('plan_mismatch');

  const live = await trigger({ node_id: NODE, plan_hash: hash });
  expect(live.status).toBe(201);
  expect(live.body).toMatchObject({ workflow_id: `gpu-fault/${NODE}`, plan_hash: hash, plan_followed: true });
  const done = await waitForRun(live.body.status_url, (r) => r.execution_status === 'COMPLETED', 'live run from the plan');
  expect(done.status.outcome).toBe('no_fault_found');
  expect(done.status.plan.plan_hash).toBe(hash);
  expect((await stack.lab.records(NODE)).mutations).toEqual([]);
});

test('approval over HTTP: pending run is listed, approved, then a second approval is refused', async () => {
  await stack.lab.injectXid(NODE, 7, 48, true);
  const started = await trigger({ node_id: NODE, xid: 48, gpu_index: 7 }, { 'x-correlation-id': 'corr-e2e-approval' });
  expect(started.status).toBe(201);
  expect(started.body).toEqual({
    workflow_id: `gpu-fault/${NODE}`,
    run_id: expect.any(String),
    runbook: 'gpu-fault-remediation',
    correlation_id: 'corr-e2e-approval',
    status_url: `/api/v1/runs/gpu-fault%2F${NODE}`,
    alert: 'started',
  });
  const traceId = started.headers.get('x-trace-id');
  const waiting = await waitForRun(started.body.status_url, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval');
  expect(waiting.execution_status).toBe('RUNNING');
  expect(waiting.status.phase).toBe('escalate');

  const listed = await eventually(async () => {
    const r = await call('GET', `/api/v1/runs?awaiting_approval=true&node_id=${NODE}&status=running`);
    return r.body.runs.length === 1 ? r.body : undefined;
  }, 'visibility listing');
  expect(listed.runs[0]).toMatchObject({
    workflow_id: `gpu-fault/${NODE}`,
    awaiting_approval: true,
    phase: 'escalate',
    host_name: NODE,
    correlation_id: 'corr-e2e-approval',
  });

  // An RMA needs two approvers: the first answer says so, the second opens it.
  const first = await api.as('alice', 'POST', `${started.body.status_url}/approvals`, {
    decision: 'approve',
    reason: 'diag failed twice; replace GPU 7',
  });
  expect(first.status).toBe(200);
  expect(first.body).toMatchObject({ approval_id: waiting.status.pending_approval.id, actor: 'alice', state: 'pending', min_approvals: 2 });
  const second = await api.as('bob', 'POST', `${started.body.status_url}/approvals`, { decision: 'approve', reason: 'agreed' });
  expect(second.body).toMatchObject({ actor: 'bob', state: 'approved', approvals: [{ actor: 'alice' }, { actor: 'bob' }] });
  const done = await waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'completion');
  expect(done.status.outcome).toBe('rma_opened');
  expect(done.status.approvals[0]).toMatchObject({ decision: 'approve', actor: 'alice, bob' });

  const again = await api.as('alice', 'POST', `${started.body.status_url}/approvals`, { decision: 'approve', reason: 'late' });
  expect(again.status).toBe(409);
  expect(again.body.error.code).toBe('no_pending_approval');

  // One trace from the API request through the workflow to the activities.
  const traced = await stack.pool.query(`SELECT DISTINCT trace_id FROM evidence WHERE workflow_id = $1 AND run_id = $2 AND kind = 'command'`, [
    `gpu-fault/${NODE}`,
    started.body.run_id,
  ]);
  expect(traceId).toMatch(/^[0-9a-f]{32}$/);
  expect(traced.rows.map((r) => r.trace_id)).toEqual([traceId]);
  const run = await stack.pool.query(`SELECT correlation_id, outcome FROM runbook_runs WHERE workflow_id = $1 AND run_id = $2`, [
    `gpu-fault/${NODE}`,
    started.body.run_id,
  ]);
  expect(run.rows[0]).toEqual({ correlation_id: 'corr-e2e-approval', outcome: 'rma_opened' });
});
