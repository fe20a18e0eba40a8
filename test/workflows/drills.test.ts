/**
 * Scheduled drills: Temporal Schedules created through the API start the drill
 * workflow, which injects the fault into the lab, runs gpu-fault-remediation in
 * drill mode, answers its approvals, and writes a report to PostgreSQL.
 */
import type { Worker } from '@temporalio/worker';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { expectEnvelope, startApi, type RunningApi } from '../e2e/api-harness';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';

let stack: Stack;
let worker: Worker;
let running: Promise<void>;
let api: RunningApi;
const created: string[] = [];

beforeAll(async () => {
  stack = await connectStack();
  const taskQueue = uniqueTaskQueue('drills');
  worker = await stack.worker(taskQueue);
  running = worker.run();
  api = await startApi(stack, taskQueue);
  await stack.lab.reset();
  for (const node of ['dev-gpu-2', 'dev-gpu-3', 'dev-control-1']) await clearHistory(stack, node);
});
afterAll(async () => {
  for (const id of created) await api.call('DELETE', `/api/v1/drills/${id}`);
  await api?.close();
  worker?.shutdown();
  await running;
  await stack?.close();
});

async function schedule(id: string, scenario: string, node_id: string) {
  const r = await api.call('POST', '/api/v1/drills', { id, runbook: 'gpu-fault-remediation', scenario, node_id, every: '24h' });
  expect(r.status).toBe(201);
  created.push(id);
  return r.body;
}

async function triggerAndReport(id: string) {
  expect((await api.call('POST', `/api/v1/drills/${id}/trigger`)).status).toBe(202);
  return eventually(
    async () => {
      const r = await api.call('GET', `/api/v1/drills/${id}/reports`);
      return r.body.reports.length > 0 ? r.body.reports[0] : undefined;
    },
    `a report of drill ${id}`,
    60_000,
  );
}

test('transient Xid drill: scheduled, triggered now, the fault injected and remediated, a passing report with its timings', async () => {
  const drill = await schedule('transient-gpu3', 'transient-xid', 'dev-gpu-3');
  expect(drill).toMatchObject({
    id: 'transient-gpu3',
    runbook: 'gpu-fault-remediation',
    scenario: 'transient-xid',
    expected: 'returned_to_service',
    node_id: 'dev-gpu-3',
    paused: false,
    schedule: { every_ms: 86_400_000 },
  });
  expect(drill.next_runs.length).toBeGreaterThan(0);
  const report = await triggerAndReport('transient-gpu3');
  expect(report).toMatchObject({
    runbook: 'gpu-fault-remediation',
    scenario: 'transient-xid',
    node_id: 'dev-gpu-3',
    expected: 'returned_to_service',
    outcome: 'returned_to_service',
    passed: true,
  });
  expect(report.time_to_detect_ms).toBeGreaterThanOrEqual(0);
  expect(report.time_to_recover_ms).toBeGreaterThan(report.time_to_detect_ms);
  // The run was a drill: recorded as such, on the node the lab faulted.
  const run = await stack.pool.query(`SELECT run_mode, outcome FROM runbook_runs WHERE node_id = 'dev-gpu-3' ORDER BY started_at DESC LIMIT 1`);
  expect(run.rows[0]).toEqual({ run_mode: 'drill', outcome: 'returned_to_service' });
  expect(await stack.lab.applied('dev-gpu-3', 'reset_gpu')).toBe(1);
});

test('persistent fault drill: the run asks for an RMA, the drill declines as itself, the node is held for an operator', async () => {
  await schedule('rma-gpu2', 'persistent-fault-rma', 'dev-gpu-2');
  const report = await triggerAndReport('rma-gpu2');
  expect(report).toMatchObject({ expected: 'held_for_operator', outcome: 'held_for_operator', passed: true });
  const decision = await stack.pool.query(`SELECT data FROM evidence WHERE workflow_id = 'gpu-fault/dev-gpu-2' AND kind = 'decision' ORDER BY id DESC LIMIT 1`);
  expect(decision.rows[0].data).toMatchObject({ step: 'approve_rma', decision: 'reject', actor: 'drill:rma-gpu2' });
});

test('wrong-role drill: a run aimed at a control host is refused, which is what the drill expects', async () => {
  await schedule('wrong-role', 'wrong-role-refused', 'dev-control-1');
  const report = await triggerAndReport('wrong-role');
  expect(report).toMatchObject({
    expected: 'refused: HostRoleViolation',
    outcome: 'refused: HostRoleViolation',
    passed: true,
    time_to_recover_ms: expect.any(Number),
  });
});

test('drills are listed, paused and deleted; bad ones are refused before any schedule exists', async () => {
  const listed = await api.call('GET', '/api/v1/drills');
  expect(listed.body.drills.map((d: { id: string }) => d.id)).toEqual(expect.arrayContaining(['transient-gpu3']));
  expect((await api.call('POST', '/api/v1/drills/transient-gpu3/pause')).status).toBe(202);
  expect((await api.call('GET', '/api/v1/drills/transient-gpu3')).body.paused).toBe(true);
  expect((await api.call('POST', '/api/v1/drills/transient-gpu3/unpause')).status).toBe(202);
  expect((await api.call('GET', '/api/v1/drills/transient-gpu3')).body.paused).toBe(false);

  expectEnvelope(
    await api.call('POST', '/api/v1/drills', { id: 'x', runbook: 'gpu-fault-remediation', scenario: 'nope', node_id: 'dev-gpu-1', every: '1h' }),
    404,
    'unknown_scenario',
  );
  expectEnvelope(
    await api.call('POST', '/api/v1/drills', { id: 'x', runbook: 'gpu-fault-remediation', scenario: 'transient-xid', node_id: 'dev-lab-1', every: '1h' }),
    422,
    'host_role_violation',
  );
  expectEnvelope(
    await api.call('POST', '/api/v1/drills', {
      id: 'transient-gpu3',
      runbook: 'gpu-fault-remediation',
      scenario: 'transient-xid',
      node_id: 'dev-gpu-3',
      every: '1h',
    }),
    409,
    'drill_exists',
  );
  expectEnvelope(
    await api.call('POST', '/api/v1/drills', { id: 'x', runbook: 'gpu-fault-remediation', scenario: 'transient-xid', node_id: 'dev-gpu-1' }),
    400,
    'invalid_input',
  );
  // A production host, not marked drillable.
  const inventory = { hosts: stack.inventory.hosts.map((h) => (h.node_id === 'dev-gpu-1' ? { ...h, drillable: false } : h)) };
  const prod = await startApi(stack, 'unused', { inventory });
  try {
    expectEnvelope(
      await prod.call('POST', '/api/v1/drills', { id: 'x', runbook: 'gpu-fault-remediation', scenario: 'transient-xid', node_id: 'dev-gpu-1', every: '1h' }),
      422,
      'not_drillable',
    );
  } finally {
    await prod.close();
  }
  expect((await api.call('GET', '/api/v1/drills/x')).status).toBe(404);

  expect((await api.call('DELETE', '/api/v1/drills/wrong-role')).status).toBe(204);
  expect((await api.call('GET', '/api/v1/drills/wrong-role')).status).toBe(404);
});
