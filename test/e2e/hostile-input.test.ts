/**
 * Input a fuzzer found: every answer is the JSON envelope with a 4xx (or a 503 when a
 * dependency is down), and nothing starts. Through the HTTP API against the real stack.
 */
import { citeRule, ruleById } from '../../domain/host-role-rules';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection, WorkflowNotFoundError } from '@temporalio/client';
import { Pool } from 'pg';
import { gpuFaultWorkflowId } from '../../runbooks/gpu-fault-remediation/input';
import { findFreePort } from '../../infra/free-port';
import { resolveTemporalCli } from '../../infra/temporal-cli';
import { startTemporalDevServer } from '../../infra/temporal-dev-server';
import { connectStack, uniqueTaskQueue, type Stack } from '../support/harness';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { RUNBOOKS } from '../../runbooks/registry';
import { clearAlertLedger, expectEnvelope, startApi, type ApiAnswer, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-3';
const RUNS = '/api/v1/runbooks/gpu-fault-remediation/runs';
let stack: Stack;
let api: RunningApi;
let taskQueue: string;

beforeAll(async () => {
  stack = await connectStack();
  // No worker: nothing here may start a run, and a run that starts anyway stays visible.
  taskQueue = uniqueTaskQueue('hostile');
  api = await startApi(stack, taskQueue);
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
});
beforeEach(async () => {
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

/** The run Temporal has for this node's workflow id (open or closed), or null. */
async function latestRunId(nodeId: string): Promise<string | null> {
  try {
    return (await stack.client.workflow.getHandle(gpuFaultWorkflowId(nodeId)).describe()).runId;
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) return null;
    throw err;
  }
}

/** What "nothing started" is checked against: Temporal's run, the engine's rows, the ledger, the lab's records. */
async function footprint(nodeId: string) {
  const workflowId = gpuFaultWorkflowId(nodeId);
  const rows = await stack.pool.query(
    `SELECT (SELECT count(*) FROM runbook_runs WHERE workflow_id = $1)::int AS runs,
            (SELECT count(*) FROM alert_runs WHERE workflow_id = $1)::int AS alert_runs,
            (SELECT count(*) FROM alert_ledger WHERE workflow_id = $1)::int AS alerts`,
    [workflowId],
  );
  const records = await stack.lab.records(nodeId);
  return { run: await latestRunId(nodeId), ...rows.rows[0], commands: records.commands.length, mutations: records.mutations.length };
}

/** Sends raw bytes over a socket (fetch refuses to send what these tests need to send). */
function rawRequest(port: number, request: Buffer | string): Promise<{ status: number; headers: Record<string, string>; body: any }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', reject);
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const [head, ...rest] = text.split('\r\n\r\n');
      const [statusLine, ...headerLines] = head!.split('\r\n');
      const headers = Object.fromEntries(headerLines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
      resolve({ status: Number(statusLine!.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n\r\n')) });
    });
    socket.end(request);
  });
}

const port = () => Number(new URL(api.base).port);

const BAD_TEXT: [string, string][] = [
  ['NUL', 'alice\u0000'],
  ['SOH', 'al\u0001ice'],
  ['ESC (terminal escape)', '\u001b[31malice'],
  ['CR (log forging)', 'alice\r'],
  ['DEL', 'alice\u007f'],
  ['C1 control', 'alice\u0085'],
  ['lone high surrogate', 'alice\ud800'],
  ['lone low surrogate', '\udc00alice'],
  ['U+FFFD (undecodable bytes)', 'alice\ufffd'],
];

test('control characters, lone surrogates and U+FFFD in any text field → 400 invalid_input, nothing started', async () => {
  const before = await footprint(NODE);
  const runUrl = `/api/v1/runs/${encodeURIComponent(gpuFaultWorkflowId(NODE))}`;
  for (const [what, bad] of BAD_TEXT) {
    const cases: [string, string, Record<string, unknown>, string][] = [
      ['POST', RUNS, { node_id: NODE, xid: 48, source: bad }, 'source'],
      ['POST', RUNS, { node_id: NODE, xid: 48, correlation_id: bad }, 'correlation_id'],
      ['POST', `${runUrl}/approvals`, { decision: 'approve', reason: bad }, 'reason'],
      ['POST', `${runUrl}/cancel`, { reason: bad }, 'reason'],
    ];
    for (const [method, url, body, field] of cases) {
      const r = await api.call(method, url, body);
      expect({ what, url, field, status: r.status, code: r.body.error?.code }).toEqual({ what, url, field, status: 400, code: 'invalid_input' });
      expect(r.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
      expectEnvelope(r, 400, 'invalid_input');
    }
  }
  // Invalid UTF-8 on the wire: the JSON parser decodes 0xFF to U+FFFD, which is refused.
  const bytes = Buffer.concat([Buffer.from(`{"node_id":"${NODE}","xid":48,"source":"mon`), Buffer.from([0xff, 0xfe]), Buffer.from('"}')]);
  const invalidUtf8 = await fetch(`${api.base}${RUNS}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${api.bearer.olga}` },
    body: bytes,
  });
  const invalidUtf8Body = (await invalidUtf8.json()) as any;
  expect({ status: invalidUtf8.status, code: invalidUtf8Body.error.code, path: invalidUtf8Body.error.details.fields[0].path }).toEqual({
    status: 400,
    code: 'invalid_input',
    path: 'source',
  });
  expect(await footprint(NODE)).toEqual(before);
});

test('tab and line feed are allowed in a reason; no body may name its actor', async () => {
  const runUrl = `/api/v1/runs/${encodeURIComponent(gpuFaultWorkflowId('never-ran'))}`;
  // Accepted by validation, so the answer is about the (missing) run.
  const multiLine = await api.as('alice', 'POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'diag failed:\n\tGPU 3 r3' });
  expectEnvelope(multiLine, 404, 'run_not_found');
  const cancel = await api.as('olga', 'POST', `${runUrl}/cancel`, { reason: 'line one\nline two' });
  expectEnvelope(cancel, 404, 'run_not_found');
  // The actor is the authenticated principal: a body that claims one is refused.
  for (const [url, body] of [
    [`${runUrl}/cancel`, { actor: 'mallory', reason: 'x' }],
    [`${runUrl}/approvals`, { decision: 'approve', actor: 'alice', reason: 'x' }],
    ['/api/v1/budgets/release', { scope: 'rack/rack-1', node_id: NODE, actor: 'alice', reason: 'x' }],
  ] as const) {
    const claimed = await api.call('POST', url, body);
    expectEnvelope(claimed, 400, 'invalid_input');
    expect(claimed.body.error.details.fields[0].message).toMatch(/actor/);
  }
});

test('X-Correlation-Id with control characters or non-ASCII bytes → 400 invalid_input envelope', async () => {
  const before = await footprint(NODE);
  const body = JSON.stringify({ node_id: NODE, xid: 48 });
  for (const header of [
    Buffer.from('abc\u0000def', 'latin1'),
    Buffer.from('abc\u0001', 'latin1'),
    Buffer.from([0x61, 0xef, 0xbf, 0xbd]),
    Buffer.from([0x61, 0xff]),
  ]) {
    const request = Buffer.concat([
      Buffer.from(`POST ${RUNS} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nx-correlation-id: `),
      header,
      Buffer.from(`\r\nconnection: close\r\n\r\n${body}`),
    ]);
    const r = await rawRequest(port(), request);
    expect({ header: [...header], status: r.status, code: r.body.error?.code }).toEqual({ header: [...header], status: 400, code: 'invalid_input' });
    expect(r.body).toEqual({ error: { code: 'invalid_input', message: expect.any(String), details: expect.anything() }, correlation_id: expect.any(String) });
    expect(r.headers['x-correlation-id']).toBe(r.body.correlation_id);
  }
  // What fetch can send: printable but outside the allowed set.
  const spaced = await api.trigger({ node_id: NODE, xid: 48 }, { 'x-correlation-id': 'has space' });
  expectEnvelope(spaced, 400, 'invalid_input');
  expect(spaced.body.error.details.fields[0].path).toBe('headers.x-correlation-id');
  expect(await footprint(NODE)).toEqual(before);
});

test('__proto__, constructor and other Object.prototype names are unknown runbooks (404)', async () => {
  for (const name of ['__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'isPrototypeOf', '__defineGetter__', 'prototype']) {
    const r = await api.call('POST', `/api/v1/runbooks/${name}/runs`, { node_id: NODE });
    expect({ name, status: r.status }).toEqual({ name, status: 404 });
    expectEnvelope(r, 404, 'unknown_runbook');
    expect(r.body.error.details.known).toEqual(RUNBOOKS.map((d) => d.name));
  }
});

test('an empty or unparseable duration is a 400 naming the field, never a 500', async () => {
  const before = await footprint(NODE);
  for (const field of ['drain_timeout', 'approval_timeout', 'reboot_timeout', 'poll_interval']) {
    for (const value of ['', ' ', '1e400ms', '-5s', 'ms', 0, -1]) {
      const r = await api.trigger({ node_id: NODE, xid: 48, [field]: value });
      expect({ field, value, status: r.status }).toEqual({ field, value, status: 400 });
      expectEnvelope(r, 400, 'invalid_input');
      expect(r.body.error.details.fields.map((f: { path: string }) => f.path)).toEqual([field]);
    }
  }
  expect(await footprint(NODE)).toEqual(before);
});

test('a node not in the inventory → 404; a node of another role → 422; nothing started', async () => {
  const nodes = ['dev-gpu-99', 'dev-control-1', 'dev-lab-1'];
  const before = await Promise.all(nodes.map(footprint));
  const unknown = await api.trigger({ node_id: 'dev-gpu-99', xid: 48 });
  expectEnvelope(unknown, 404, 'node_not_found');
  expect(unknown.body.error.details).toEqual({ node_id: 'dev-gpu-99' });
  // The refusal quotes the rule the run's check_host_role would cite for a reboot there.
  for (const [node, role, rule] of [
    ['dev-control-1', 'platform_control', 'no-destructive-hardware-on-platform-control'],
    ['dev-lab-1', 'app_control', 'worker-duties-on-workers'],
  ] as const) {
    const r = await api.trigger({ node_id: node, xid: 48 });
    expectEnvelope(r, 422, 'host_role_violation');
    expect(r.body.error.details).toEqual({ node_id: node, role, required_role: 'worker_compute', rule });
    expect(r.body.error.message).toBe(`gpu-fault-remediation acts on worker_compute hosts; ${node} is ${role}; ${citeRule(ruleById(rule))}`);
  }
  expect(await Promise.all(nodes.map(footprint))).toEqual(before);
});

test('a drill on a host not marked drillable → 422 not_drillable, nothing started; a live run there is fine', async () => {
  // The same fleet, with one worker no longer marked drillable (as a production host would be).
  const inventory = { hosts: stack.inventory.hosts.map((h) => (h.node_id === NODE ? { ...h, drillable: false } : h)) };
  const prod = await startApi(stack, taskQueue, { inventory });
  try {
    const before = await footprint(NODE);
    const drill = await prod.trigger({ node_id: NODE, xid: 48, run_mode: 'drill' });
    expectEnvelope(drill, 422, 'not_drillable');
    expect(drill.body.error.details).toEqual({ node_id: NODE });
    expect(await footprint(NODE)).toEqual(before);
    // The lab's own hosts are drillable.
    expect(stack.inventory.hosts.every((h) => h.drillable)).toBe(true);
  } finally {
    await prod.close();
  }
});

test('malformed URLs, over-long ids and refused bodies are envelopes too', async () => {
  const cases: [string, string, unknown, Record<string, string>, number, string][] = [
    ['GET', '/api/v1/runs/%E0%A4%A', undefined, {}, 400, 'bad_url'],
    ['POST', '/api/v1/runbooks/%E0%A4%A/runs', { node_id: NODE }, {}, 400, 'bad_url'],
    ['POST', '/api/v1/runs/%zz/cancel', { reason: 'b' }, {}, 400, 'bad_url'],
    ['GET', `/api/v1/runs/${'a'.repeat(5000)}`, undefined, {}, 414, 'uri_too_long'],
    ['POST', `/api/v1/runs/${'a'.repeat(2000)}/approvals`, { decision: 'approve', reason: 'b' }, {}, 414, 'uri_too_long'],
    // Within the router's limit but longer than any workflow id Temporal accepts.
    ['GET', `/api/v1/runs/${'a'.repeat(1001)}`, undefined, {}, 400, 'invalid_input'],
    ['GET', '/api/v1/runs/gpu-fault%2F%00', undefined, {}, 400, 'invalid_input'],
    ['POST', RUNS, '{"node_id": ', {}, 400, 'invalid_request'],
    ['POST', RUNS, 'node_id=dev-gpu-3', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'unsupported_media_type'],
    ['POST', RUNS, JSON.stringify({ node_id: NODE, source: 'x'.repeat(100_000) }), {}, 413, 'body_too_large'],
    ['POST', RUNS, '{"node_id":"dev-gpu-3","__proto__":{"admin":true}}', {}, 400, 'invalid_request'],
  ];
  const before = await footprint(NODE);
  for (const [method, url, body, headers, status, code] of cases) {
    const r: ApiAnswer = await api.call(method, url, body, headers);
    expect({ url: url.slice(0, 60), status: r.status, code: r.body?.error?.code }).toEqual({ url: url.slice(0, 60), status, code });
    expectEnvelope(r, status, code);
    expect(JSON.stringify(r.body)).not.toMatch(/at .*\.[jt]s:\d+/);
  }
  // The longest id the router accepts still reaches Temporal and is simply not there.
  expectEnvelope(await api.call('GET', `/api/v1/runs/${'a'.repeat(1000)}`), 404, 'run_not_found');
  expect(await footprint(NODE)).toEqual(before);
});

/** Runs `fn` and returns its answer with how long it took, in ms. */
async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const value = await fn();
  return [value, performance.now() - t0];
}

const SLA_MS = 2_000;
/** 'under 2 s', or the time taken (so a failure shows it). */
const within = (ms: number) => (ms < SLA_MS ? 'under 2 s' : `${Math.round(ms)} ms`);

/** Every route that calls Temporal, for a run id that exists or not. */
function temporalRoutes(nodeId: string): [string, string, unknown][] {
  const runUrl = `/api/v1/runs/${encodeURIComponent(gpuFaultWorkflowId(nodeId))}`;
  return [
    ['POST', RUNS, { node_id: nodeId, xid: 79, gpu_index: 1 }],
    ['GET', runUrl, undefined],
    ['GET', '/api/v1/runs?status=running', undefined],
    ['POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'r' }],
    ['POST', `${runUrl}/cancel`, { reason: 'r' }],
  ];
}

test('Temporal unreachable: every Temporal route answers 503 temporal_unavailable within 2 s; /healthz names Temporal', async () => {
  const deadPort = await findFreePort();
  const connection = Connection.lazy({ address: `127.0.0.1:${deadPort}` });
  const down = await startApi({ ...stack, client: new Client({ connection }) }, taskQueue);
  try {
    for (const [method, url, body] of temporalRoutes(NODE)) {
      const [r, ms] = await timed(() => down.call(method, url, body));
      expect({ method, url, status: r.status, code: r.body.error?.code }).toEqual({ method, url, status: 503, code: 'temporal_unavailable' });
      expectEnvelope(r, 503, 'temporal_unavailable');
      expect(r.headers.get('retry-after')).toBe('1');
      expect({ method, url, ms: within(ms) }).toEqual({ method, url, ms: 'under 2 s' });
    }
    const [health, ms] = await timed(() => down.call('GET', '/healthz'));
    expect(ms).toBeLessThan(SLA_MS);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ status: 'degraded', temporal: expect.stringMatching(/^error: /), database: 'ok' });
  } finally {
    await down.close();
    await connection.close();
  }
});

test('database unreachable: /healthz names the database, a trigger answers 503 database_unavailable, both within 2 s', async () => {
  const deadPool = new Pool({ connectionString: `postgres://nobody:nothing@127.0.0.1:${await findFreePort()}/none`, connectionTimeoutMillis: 1_000 });
  const down = await startApi({ ...stack, pool: deadPool }, taskQueue);
  try {
    const [health, healthMs] = await timed(() => down.call('GET', '/healthz'));
    expect(healthMs).toBeLessThan(SLA_MS);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({ status: 'degraded', temporal: 'ok', database: expect.stringMatching(/^error: /) });
    const before = await footprint(NODE);
    const [r, ms] = await timed(() => down.trigger({ node_id: NODE, xid: 48 }));
    expect(ms).toBeLessThan(SLA_MS);
    expectEnvelope(r, 503, 'database_unavailable');
    expect(await footprint(NODE)).toEqual(before);
  } finally {
    await down.close();
    await deadPool.end();
  }
});

test('Temporal stopped mid-test: 503 temporal_unavailable within 2 s on every Temporal route; repeats are still coalesced from the ledger', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-temporal-stop-'));
  const node = 'dev-gpu-4';
  await clearAlertLedger(stack, node);
  const cli = await resolveTemporalCli({});
  const server = await startTemporalDevServer({
    cliPath: cli.path,
    dbFile: path.join(dir, 'temporal.db'),
    port: await findFreePort(),
    uiPort: await findFreePort(),
  });
  const connection = await Connection.connect({ address: server.address });
  const api2 = await startApi({ ...stack, client: new Client({ connection }) }, uniqueTaskQueue('stopped'));
  try {
    // No worker on this server: the run stays open, which is all this test needs.
    const started = await api2.trigger({ node_id: node, xid: 79, gpu_index: 1 });
    expect(started.status).toBe(201);
    await server.stop();

    // The ledger answers a repeat without Temporal.
    const repeat = await api2.trigger({ node_id: node, xid: 79, gpu_index: 1, source: 'second-monitor' });
    expect({ status: repeat.status, alert: repeat.body.alert, run_id: repeat.body.run_id }).toEqual({
      status: 200,
      alert: 'coalesced',
      run_id: started.body.run_id,
    });

    const newXid: [string, string, unknown] = ['POST', RUNS, { node_id: node, xid: 48, gpu_index: 2 }];
    for (const [method, url, body] of [newXid, ...temporalRoutes(node).slice(1)]) {
      const [r, ms] = await timed(() => api2.call(method, url, body));
      expect({ method, url, status: r.status, code: r.body.error?.code }).toEqual({ method, url, status: 503, code: 'temporal_unavailable' });
      expect({ method, url, ms: within(ms) }).toEqual({ method, url, ms: 'under 2 s' });
    }
    const [health, ms] = await timed(() => api2.call('GET', '/healthz'));
    expect(ms).toBeLessThan(SLA_MS);
    expect(health.body).toMatchObject({ status: 'degraded', temporal: expect.stringMatching(/^error: /), database: 'ok' });
    // The failed delivery is not lost: the key is free to be delivered by the next alert.
    const ledger = await stack.pool.query(`SELECT alert_key, delivery FROM alert_ledger WHERE workflow_id = $1 AND run_id = $2 ORDER BY alert_key`, [
      gpuFaultWorkflowId(node),
      started.body.run_id,
    ]);
    expect(ledger.rows).toEqual([
      { alert_key: 'xid=48/gpu=2', delivery: 'failed' },
      { alert_key: 'xid=79/gpu=1', delivery: 'started' },
    ]);
  } finally {
    await api2.close();
    await connection.close();
    await server.stop();
    await clearAlertLedger(stack, node);
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
