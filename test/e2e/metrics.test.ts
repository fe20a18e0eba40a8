/**
 * GET /metrics on the real stack: real runs on a real worker, scraped in Prometheus' text
 * format. Every value checked comes from what the runs did (their rows, their status, the
 * ledgers), read the way the API reads it, never from a constant.
 */
import { Pool } from 'pg';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { RUNBOOK_GPU_FAULT } from '../../runbooks/gpu-fault-remediation/input';
import { connectStack, eventually, type Stack } from '../support/harness';
import { clearAlertLedger, expectEnvelope, startApi, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-3';
const SCOPE = `node/${NODE}`;
/** Past the API's settle delay (5 s) and its Temporal refresh (5 s), with room. */
const SCRAPE_WAIT_MS = 30_000;

let stack: Stack;
let api: RunningApi;
let taskQueue: string;
let stopApi: (() => Promise<void>) | undefined;

beforeAll(async () => {
  stack = await connectStack();
  ({ api, taskQueue, stop: stopApi } = await startApiWithWorker(stack, 'metrics'));
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});
afterAll(async () => {
  // A run held for an operator keeps its node's slot: give it back for the tests after this one.
  await api?.call('POST', '/api/v1/budgets/release', { scope: SCOPE, node_id: NODE, reason: 'metrics test clean-up' });
  await stopApi?.();
  await stack?.close();
});

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus' text exposition format, sample lines only (comments and TYPE/HELP lines skipped). */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)(?: -?\d+)?$/.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/g)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    const raw = m[3]!;
    samples.push({ name: m[1]!, labels, value: raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw) });
  }
  return samples;
}

class Scrape {
  constructor(readonly samples: Sample[]) {}

  /** The samples of `name` whose labels include `labels`. */
  find(name: string, labels: Record<string, string> = {}): Sample[] {
    return this.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  }

  /** The sum of those samples (0 when there are none: a series not yet created). */
  sum(name: string, labels: Record<string, string> = {}): number {
    return this.find(name, labels).reduce((total, s) => total + s.value, 0);
  }
}

async function scrape(from: RunningApi = api): Promise<Scrape> {
  const res = await fetch(`${from.base}/metrics`, { headers: { authorization: `Bearer ${from.bearer.vic}` } });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Scrape(parseExposition(await res.text()));
}

/** Scrapes until `ready` holds (rows settle for 5 s before they are counted; Temporal readings refresh every 5 s). */
function scrapeUntil(ready: (s: Scrape) => boolean, what: string): Promise<Scrape> {
  return eventually(
    async () => {
      const s = await scrape();
      return ready(s) ? s : undefined;
    },
    what,
    SCRAPE_WAIT_MS,
    500,
  );
}

/** The run's row and its steps, as the worker recorded them. */
async function recorded(workflowId: string, runId: string) {
  const run = await stack.pool.query<{ seconds: number }>(
    `SELECT extract(epoch FROM ended_at - started_at)::float8 AS seconds FROM runbook_runs WHERE workflow_id = $1 AND run_id = $2`,
    [workflowId, runId],
  );
  const steps = await stack.pool.query<{ name: string; status: string; seconds: number }>(
    `SELECT name, status, extract(epoch FROM ended_at - started_at)::float8 AS seconds FROM runbook_steps WHERE workflow_id = $1 AND run_id = $2 ORDER BY seq`,
    [workflowId, runId],
  );
  return { seconds: run.rows[0]!.seconds, steps: steps.rows };
}

const live = { runbook: RUNBOOK_GPU_FAULT, mode: 'live' };

test('GET /metrics needs a token; a viewer reads it', async () => {
  const anonymous = await api.call('GET', '/metrics', undefined, { authorization: '' });
  expectEnvelope(anonymous, 401, 'unauthenticated');
  const s = await scrape();
  // Every source answered, and the process metrics are there.
  for (const source of ['runbook_runs', 'disruption_ledgers', 'pending_approvals']) expect(s.sum('gpuaas_metrics_source_up', { source })).toBe(1);
  expect(s.find('process_cpu_user_seconds_total')).toHaveLength(1);
  // The refused scrape is in the request latency histogram, under its route pattern.
  expect(s.sum('gpuaas_api_request_duration_seconds_count', { method: 'GET', route: '/metrics', status_code: '401' })).toBeGreaterThanOrEqual(1);
});

test('a run that returns its node to service: started, closed with its outcome, its duration, time to recover and every step', async () => {
  const before = await scrape();
  await stack.lab.injectXid(NODE, 3, 48);
  const started = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 3 });
  expect(started.status).toBe(201);
  const done = await api.waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'the run to complete');
  expect(done.status.outcome).toBe('returned_to_service');
  const run = await recorded(started.body.workflow_id, started.body.run_id);
  expect(run.steps.map((s) => s.name)).toEqual(done.status.steps.map((s: { name: string }) => s.name));

  const closed = { ...live, outcome: 'returned_to_service' };
  const delta = (s: Scrape, name: string, labels: Record<string, string>) => s.sum(name, labels) - before.sum(name, labels);
  const after = await scrapeUntil((s) => delta(s, 'gpuaas_runs_closed_total', closed) === 1, 'the closed run counted');
  expect(delta(after, 'gpuaas_runs_started_total', live)).toBe(1);
  expect(delta(after, 'gpuaas_run_duration_seconds_count', closed)).toBe(1);
  expect(delta(after, 'gpuaas_run_duration_seconds_sum', closed)).toBeCloseTo(run.seconds, 3);
  expect(delta(after, 'gpuaas_time_to_recover_seconds_count', live)).toBe(1);
  expect(delta(after, 'gpuaas_time_to_recover_seconds_sum', live)).toBeCloseTo(run.seconds, 3);
  // The run's duration falls in the buckets from its own le upwards.
  const firstBucket = after
    .find('gpuaas_run_duration_seconds_bucket', closed)
    .filter((b) => b.value - before.sum('gpuaas_run_duration_seconds_bucket', { ...closed, le: b.labels.le! }) === 1)
    .map((b) => Number(b.labels.le))
    .sort((a, b) => a - b)[0]!;
  expect(firstBucket).toBeGreaterThanOrEqual(run.seconds);

  // Every step that ran, by name and final status, with its recorded duration.
  const byStep = new Map<string, { count: number; seconds: number }>();
  for (const s of run.steps) {
    const key = `${s.name}\n${s.status}`;
    const seen = byStep.get(key) ?? { count: 0, seconds: 0 };
    byStep.set(key, { count: seen.count + 1, seconds: seen.seconds + s.seconds });
  }
  expect([...byStep.keys()].map((k) => k.split('\n')[0])).toEqual(expect.arrayContaining(['cordon_node', 'reset_gpu3', 'run_gpu_diag', 'uncordon_node']));
  for (const [key, want] of byStep) {
    const [step, status] = key.split('\n') as [string, string];
    const labels = { ...live, step, status };
    expect({ step, status, count: delta(after, 'gpuaas_step_duration_seconds_count', labels) }).toEqual({ step, status, count: want.count });
    expect(delta(after, 'gpuaas_step_duration_seconds_sum', labels)).toBeCloseTo(want.seconds, 3);
  }

  // The requests the test made, under their route patterns, never their raw URLs.
  const routes = new Set(after.find('gpuaas_api_request_duration_seconds_count').map((s) => s.labels.route));
  expect(after.sum('gpuaas_api_request_duration_seconds_count', { method: 'POST', route: '/api/v1/runbooks/:runbook/runs', status_code: '201' })).toBe(1);
  expect(after.sum('gpuaas_api_request_duration_seconds_count', { method: 'GET', route: '/api/v1/runs/:workflowId', status_code: '200' })).toBeGreaterThan(0);
  expect([...routes].some((r) => r?.includes(NODE))).toBe(false);

  // Counted once: later scrapes read past it.
  const again = await scrape();
  expect(delta(again, 'gpuaas_runs_closed_total', closed)).toBe(1);
  expect(delta(again, 'gpuaas_runs_started_total', live)).toBe(1);
});

test('an approval nobody answers: pending while it waits, then its wait by step, kind and decision; the held slot in the budget gauges', async () => {
  const before = await scrape();
  await stack.lab.injectXid(NODE, 7, 48, true); // persistent: diag fails, the run asks for an RMA
  const started = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 7, approval_timeout: '12s' });
  expect(started.status).toBe(201);
  const waiting = await api.waitForRun(started.body.status_url, (r) => r.status.pending_approval?.step === 'approve_rma', 'the RMA approval');
  const kind: string = waiting.status.pending_approval.kind ?? 'unspecified';
  const pendingLabels = { runbook: RUNBOOK_GPU_FAULT, step: 'approve_rma', kind };
  const pending = await scrapeUntil((s) => s.sum('gpuaas_approvals_pending', pendingLabels) === 1, 'the approval pending');
  const age = pending.sum('gpuaas_approval_pending_oldest_seconds', pendingLabels);
  expect(age).toBeGreaterThanOrEqual(0);
  expect(age).toBeLessThanOrEqual((Date.now() - Date.parse(waiting.status.pending_approval.requested_at)) / 1000 + 1);

  const done = await api.waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'the run to end');
  expect(done.status.outcome).toBe('held_for_operator');
  const [approval] = done.status.approvals;
  expect(approval).toMatchObject({ step: 'approve_rma', decision: 'timeout' });
  const waited = (Date.parse(approval.decided_at) - Date.parse(approval.requested_at)) / 1000;

  const closed = { ...live, outcome: 'held_for_operator' };
  const waitLabels = { ...pendingLabels, decision: 'timeout' };
  const delta = (s: Scrape, name: string, labels: Record<string, string>) => s.sum(name, labels) - before.sum(name, labels);
  const after = await scrapeUntil(
    (s) => delta(s, 'gpuaas_runs_closed_total', closed) === 1 && s.sum('gpuaas_approvals_pending', pendingLabels) === 0,
    'the run closed and its approval no longer pending',
  );
  expect(delta(after, 'gpuaas_approval_wait_seconds_count', waitLabels)).toBe(1);
  expect(delta(after, 'gpuaas_approval_wait_seconds_sum', waitLabels)).toBeCloseTo(waited, 3);
  expect(delta(after, 'gpuaas_step_duration_seconds_count', { ...live, step: 'approve_rma' })).toBe(1);
  // Held for an operator: not recovered.
  expect(delta(after, 'gpuaas_time_to_recover_seconds_count', live)).toBe(0);

  // The node's slot stays held for the operator: the gauges say what GET /api/v1/budgets says.
  const budgets = (await api.as('vic', 'GET', '/api/v1/budgets')).body.scopes as {
    scope: string;
    cap: number;
    unavailable: number;
    holders: unknown[];
    waiters: unknown[];
  }[];
  const node = budgets.find((b) => b.scope === SCOPE)!;
  expect(node.holders).toHaveLength(1);
  const scopeLabels = { scope: SCOPE, kind: 'node' };
  const held = await scrapeUntil((s) => s.sum('gpuaas_budget_slots_held', scopeLabels) === node.holders.length, 'the held slot');
  expect(held.sum('gpuaas_budget_cap', scopeLabels)).toBe(node.cap);
  expect(held.sum('gpuaas_budget_unavailable_nodes', scopeLabels)).toBe(node.unavailable);
  expect(held.sum('gpuaas_budget_waiting_runs', scopeLabels)).toBe(node.waiters.length);
  for (const b of budgets) expect({ scope: b.scope, cap: held.sum('gpuaas_budget_cap', { scope: b.scope }) }).toEqual({ scope: b.scope, cap: b.cap });

  const released = await api.call('POST', '/api/v1/budgets/release', { scope: SCOPE, node_id: NODE, reason: 'metrics test: node inspected' });
  expect(released.status).toBe(202);
  await scrapeUntil((s) => s.find('gpuaas_budget_slots_held', scopeLabels)[0]?.value === 0, 'the slot released');
});

test('a request that matches no route is counted as unmatched, not by its URL', async () => {
  const missing = await api.call('GET', `/no-such-route/${NODE}`);
  expect(missing.status).toBe(404);
  const s = await scrape();
  expect(s.sum('gpuaas_api_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBeGreaterThanOrEqual(1);
  expect(s.find('gpuaas_api_request_duration_seconds_count').some((x) => x.labels.route!.includes('no-such-route'))).toBe(false);
});

test('an unreachable database: the scrape still answers, says which source failed, and each API has its own registry', async () => {
  const unreachable = new Pool({ connectionString: 'postgres://nobody@127.0.0.1:1/nothing', connectionTimeoutMillis: 1_000 });
  const other = await startApi(stack, taskQueue, { pool: unreachable });
  try {
    const s = await scrape(other);
    expect(s.sum('gpuaas_metrics_source_up', { source: 'runbook_runs' })).toBe(0);
    expect(s.sum('gpuaas_metrics_source_errors_total', { source: 'runbook_runs' })).toBe(1);
    expect(s.sum('gpuaas_metrics_source_up', { source: 'disruption_ledgers' })).toBe(1);
    // The first API counted this file's runs; this one started after them and counts none of its own.
    expect((await scrape()).sum('gpuaas_runs_started_total')).toBeGreaterThan(0);
    expect(s.sum('gpuaas_runs_started_total')).toBe(0);
  } finally {
    await other.close();
    await unreachable.end();
  }
});
