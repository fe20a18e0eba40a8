/**
 * app-instance-deploy's drills, scheduled through the API and triggered now: each of
 * seed 001's failure modes (and the 3 → 4 → 5 chain) is created in the lab on the
 * drilled worker, the run takes the stuck instance over in drill mode and brings it to
 * running, and the drill's report passes. A drill refuses to restart a controller on an
 * app_control host the inventory does not mark drillable.
 */
import type { RunReport } from '../../../domain/runbook';
import { startApi, type RunningApi } from '../../../test/e2e/api-harness';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { APP_INSTANCE_DEPLOY_DRILLS } from '../drills';

const NODE = 'dev-gpu-1';

let stack: Stack;
let api: RunningApi;
let stopWorker: () => Promise<void>;
const created: string[] = [];

beforeAll(async () => {
  stack = await connectStack();
  const taskQueue = uniqueTaskQueue('deploy-drills');
  const worker = await stack.worker(taskQueue);
  const running = worker.run();
  stopWorker = async () => {
    worker.shutdown();
    await running;
  };
  api = await startApi(stack, taskQueue);
});
afterAll(async () => {
  for (const id of created) await api.call('DELETE', `/api/v1/drills/${id}`);
  await api?.close();
  await stopWorker?.();
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
});

interface Report {
  scenario: string;
  expected: string;
  outcome: string;
  passed: boolean;
  workflow_id: string;
  time_to_recover_ms: number | null;
}

async function drill(id: string, scenario: string, via: RunningApi = api): Promise<Report> {
  const r = await via.call('POST', '/api/v1/drills', { id, runbook: 'app-instance-deploy', scenario, node_id: NODE, every: '24h', paused: true });
  expect(r.status).toBe(201);
  created.push(id);
  expect((await via.call('POST', `/api/v1/drills/${id}/trigger`)).status).toBe(202);
  return eventually(
    async () => {
      const reports = (await via.call('GET', `/api/v1/drills/${id}/reports`)).body.reports as Report[];
      return reports[0];
    },
    `a report of drill ${id}`,
    90_000,
  );
}

/** The fix step each scenario must have run (the chain runs three). */
const FIXES: Record<string, string[]> = {
  'no-controller': ['bring_up_controller'],
  'hostname-build': ['upgrade_controller'],
  'node-api-unreachable': ['restore_node_api_mapping'],
  'agent-cert-expired': ['rotate_agent_certificate'],
  'enrollment-token-stale': ['reenroll_node_agent'],
  'bootstrap-tasks-queued': ['restart_node_agent'],
  'chain-3-4-5': ['restore_node_api_mapping', 'rotate_agent_certificate', 'reenroll_node_agent'],
};

test('every failure mode has a drill, and the drills are the ones this test runs', () => {
  expect(APP_INSTANCE_DEPLOY_DRILLS.map((d) => d.name).sort()).toEqual(Object.keys(FIXES).sort());
});

test.each(Object.entries(FIXES))('drill %s: the stuck instance is taken over and brought to running', async (scenario, fixes) => {
  const report = await drill(`deploy-${scenario}`, scenario);
  expect(report).toMatchObject({ scenario, expected: 'running', outcome: 'running', passed: true });
  expect(report.time_to_recover_ms).toBeGreaterThan(0);
  // The drilled run: the scenario's own instance on the drilled node, in drill mode.
  const { rows } = await stack.pool.query(`SELECT report FROM drill_reports WHERE drill_id = $1 ORDER BY ended_at DESC LIMIT 1`, [`deploy-${scenario}`]);
  const run = rows[0].report as RunReport;
  expect(run.workflow_id).toMatch(new RegExp(`^app-instance-deploy/proj-lab/drill-[a-z0-9]+-${NODE}$`));
  const recorded = await stack.pool.query(`SELECT run_mode, outcome FROM runbook_runs WHERE workflow_id = $1`, [run.workflow_id]);
  expect(recorded.rows).toEqual([{ run_mode: 'drill', outcome: 'running' }]);
  const steps = run.steps.map((s) => s.name);
  expect(steps).toEqual(expect.arrayContaining(fixes));
});

test('a drill does not restart a controller on an app_control host that is not drillable', async () => {
  const inventory = { ...stack.inventory, hosts: stack.inventory.hosts.map((h) => (h.role === 'app_control' ? { ...h, drillable: false } : h)) };
  const taskQueue = uniqueTaskQueue('deploy-drills-prod');
  const worker = await stack.worker(taskQueue, { inventory });
  const prodApi = await startApi(stack, taskQueue);
  try {
    const report = await worker.runUntil(drill('deploy-prod-controller', 'no-controller', prodApi));
    expect(report).toMatchObject({ outcome: 'refused: NotDrillable', passed: false });
    // Refused before its first host action: the controller is still not installed.
    const state = (await stack.lab.appRuntimeState()) as { controller: { running_build: string | null } };
    expect(state.controller.running_build).toBeNull();
  } finally {
    await prodApi.close();
  }
});
