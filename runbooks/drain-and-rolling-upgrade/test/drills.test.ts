/**
 * drain-and-rolling-upgrade's drill safe-drain-upgrade (seed 004's weekly "safe
 * drain/upgrade in staging, no data loss") on a lab of its own at timeScale 0.05, so
 * the fault's two-minute jobs take 6 s: run through the drill workflow as a schedule
 * starts it, and scheduled through POST /api/v1/drills, whose time placeholders are
 * checked as a run starting now would get them. What the tests believe about the jobs
 * comes from the lab's stream and SQL table, not from the run's own account.
 */
import { WorkflowNotFoundError, type WorkflowHandle } from '@temporalio/client';
import type { DrillInput, DrillReport } from '../../../domain/drills';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import { ORCHESTRATOR_DLQ, ORCHESTRATOR_GROUP, ORCHESTRATOR_STREAM } from '../../../domain/orchestrator';
import type { RunReport } from '../../../domain/runbook';
import { expectEnvelope, startApi, type RunningApi } from '../../../test/e2e/api-harness';
import { eventually } from '../../../test/support/harness';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import { drainAndRollingUpgradeRunbook as entry } from '../definition';
import { addJobs, maintenanceMode, PREVIOUS_VERSION, querySql, replicaHealth, statusOf, TARGET_VERSION, waitForLeader } from './scenarios';

/** A drillable replica host of the lab's cluster. */
const NODE = 'dev-control-1';

const suite = orchestratorSuite({ backend: 'mysql', suite: 'upgrade_drill', timeScale: 0.05, electionMs: 100, queueName: 'rolling-upgrade-drill' });
let api: RunningApi;
const created: string[] = [];

beforeAll(async () => {
  api = await startApi(suite.stack, suite.taskQueue, { inventory: suite.orch.lab.inventory });
});

suite.beforeTeardown(async () => {
  for (const id of created) await api.call('DELETE', `/api/v1/drills/${id}`);
  await api?.close();
});

beforeEach(async () => {
  // The reset lets the replicas elect again: until a replica's own API names the leader.
  await waitForLeader(suite.orch.cluster);
});

const lab = () => ({ platformUrl: suite.orch.lab.platformUrl, platformToken: suite.orch.lab.platformToken });
const versions = async () => Object.fromEntries(Object.entries(await replicaHealth(suite.orch.cluster)).map(([n, h]) => [n, h && `${h.status} ${h.version}`]));
const everyReplica = (v: string) => Object.fromEntries(suite.orch.cluster.replicas.map((r) => [r.node_id, `ok ${v}`]));
const installs = async (nodeId: string) =>
  (await suite.orch.admin.records(nodeId)).mutations.filter((m) => m.kind === 'orchestrator_install' && m.applied).map((m) => m.detail?.version);
const runningPools = async () =>
  (await suite.orch.state()).pools
    .filter((p) => p.status === 'running')
    .map((p) => `${p.pool_id}:${p.workers.length}`)
    .sort();

/** Every job id the stream holds (XRANGE over all of it: the lab reset emptied it), in order. */
async function streamJobs(): Promise<string[]> {
  const entries = (await suite.orch.redis.xrange(ORCHESTRATOR_STREAM, '-', '+')) as [string, string[]][];
  return entries.map(([, fields]) => fields[fields.indexOf('job_id') + 1]!);
}

async function jobRows(ids: string[]) {
  const rows = await querySql(
    suite.orch.cluster,
    `SELECT job_id, status, completions, updated_at FROM orchestrator_jobs WHERE job_id IN (${ids.map(() => '?').join(', ')})`,
    ids,
  );
  return rows.map((r) => ({
    job_id: String(r.job_id),
    status: String(r.status),
    completions: Number(r.completions),
    done_at: new Date(r.updated_at as string | Date).getTime(),
  }));
}

/** The drill as a schedule starts it: the shipped scenario aimed at NODE, its child under an id of this test's own. */
function drillInput(id: string): DrillInput {
  const scenario = entry.drills!.find((d) => d.name === 'safe-drain-upgrade')!;
  return drillInputFor(entry, scenario, NODE, { drillId: id, childSuffix: `/drill/${id}` });
}

/** Until the drilled run (started by the drill, so perhaps not yet) has started `step`. */
async function reached(child: WorkflowHandle, step: string): Promise<void> {
  await eventually(
    async () => {
      try {
        return (await statusOf(child))?.steps.some((s) => s.name === step) ? true : undefined;
      } catch (err) {
        if (err instanceof WorkflowNotFoundError) return undefined;
        throw err;
      }
    },
    `the drilled run at ${step}`,
    60_000,
    20,
  );
}

const stepAt = (run: RunReport, name: string, which: 'started_at' | 'ended_at') => Date.parse(run.steps.find((s) => s.name === name)![which]!);

test('drill safe-drain-upgrade: the replicas back on the previous release with jobs in flight, upgraded with no job lost or run twice; the drill passes, and passes again a week later', async () => {
  const input = drillInput(`test-upgrade-${process.pid}-${Date.now()}`);
  const drill = await suite.stack.client.workflow.start('runbookDrill', { taskQueue: suite.taskQueue, workflowId: `drill/${input.drill_id}`, args: [input] });
  const child = suite.stack.client.workflow.getHandle(input.child_workflow_id);
  // Jobs a producer adds during the window: while the orchestrator drains, and while its replicas restart.
  await reached(child, 'wait_drained');
  const duringDrain = [...(await addJobs(lab(), 'during-drain', 1)), ...(await addJobs(lab(), 'during-drain-m', 1, 'mistral-7b'))];
  await reached(child, 'install_version');
  const duringUpgrade = await addJobs(lab(), 'during-upgrade', 1, 'mistral-7b');
  const report = (await drill.result()) as DrillReport;

  expect(report).toMatchObject({ passed: true, outcome: 'upgraded', expected: 'upgraded', scenario: 'safe-drain-upgrade', node_id: NODE });
  const run = report.run as RunReport;
  expect(run.approvals).toEqual([expect.objectContaining({ step: 'approve_upgrade', decision: 'approve', actor: `drill:${input.drill_id}` })]);
  // The placeholders were filled as the run started: the window open around it, the backup ten minutes before.
  const started = Date.parse(run.started_at);
  const window = run.steps.find((s) => s.name === 'check_maintenance_window')!.detail!;
  const [, from, to] = /^inside (\S+) – (\S+)$/.exec(window)!;
  expect(started - Date.parse(from!)).toBeGreaterThanOrEqual(5 * 60_000 - 60_000);
  expect(Date.parse(to!) - started).toBeGreaterThan(2 * 3_600_000 - 5 * 60_000);

  // Every replica on the target, each installed once by the run (the fault's pin is no engine change).
  expect(await versions()).toEqual(everyReplica(TARGET_VERSION));
  for (const r of suite.orch.cluster.replicas) expect(await installs(r.node_id)).toEqual([TARGET_VERSION]);

  // No data loss, from the lab's own records: every job in the stream (the fault's, in flight and queued, and
  // those added during the window) has its row done, completed exactly once; nothing dead-lettered or pending.
  const ids = await streamJobs();
  const during = [...duringDrain, ...duringUpgrade];
  const fromFault = ids.filter((id) => !during.includes(id));
  expect(fromFault.length).toBe(6); // one per worker (2 pools × 2) in flight, 2 queued
  expect(ids).toEqual(expect.arrayContaining(during));
  const rows = await jobRows(ids);
  expect(rows.map((r) => r.job_id).sort()).toEqual([...ids].sort());
  expect(rows.filter((r) => r.status !== 'done' || r.completions !== 1)).toEqual([]);
  expect(await suite.orch.redis.xlen(ORCHESTRATOR_DLQ)).toBe(0);
  expect(Number(((await suite.orch.redis.xpending(ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)) as unknown[])[0])).toBe(0);

  // The drain had work to wait for: jobs in flight finished after maintenance began and before the pools
  // were stopped; the queued ones and those added in the window only after maintenance was cleared.
  const doneAt = new Map(rows.map((r) => [r.job_id, r.done_at]));
  const inFlight = fromFault.filter((id) => doneAt.get(id)! <= stepAt(run, 'stop_pools', 'started_at'));
  expect(inFlight.length).toBeGreaterThanOrEqual(1);
  expect(Math.max(...inFlight.map((id) => doneAt.get(id)!))).toBeGreaterThan(stepAt(run, 'enter_maintenance', 'ended_at'));
  expect(Math.min(...during.map((id) => doneAt.get(id)!))).toBeGreaterThanOrEqual(stepAt(run, 'exit_maintenance', 'started_at'));
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  expect(await runningPools()).toEqual(['pool-llama-3-8b:2', 'pool-mistral-7b:2']);

  // A week later the same drill (no lab reset): the fault pins the replicas back with the package step, new jobs.
  const again = drillInput(`test-upgrade-again-${process.pid}-${Date.now()}`);
  const second = await runDrill(suite.stack.client, suite.taskQueue, again);
  expect(second).toMatchObject({ passed: true, outcome: 'upgraded' });
  const secondRun = second.run as RunReport;
  expect(secondRun.steps.find((s) => s.name === 'read_replica_versions')?.detail).toBe(
    suite.orch.cluster.replicas.map((r) => `${r.node_id} ${PREVIOUS_VERSION}`).join(', '),
  );
  expect(await versions()).toEqual(everyReplica(TARGET_VERSION));
  const all = await streamJobs();
  expect(all.length).toBe(ids.length + 6);
  expect((await jobRows(all)).filter((r) => r.status !== 'done' || r.completions !== 1)).toEqual([]);
});

test('scheduled through the API: the placeholders are kept in the schedule and checked as if the drill ran now; a malformed one creates nothing', async () => {
  const id = `upgrade-${process.pid}`;
  const spec = { runbook: entry.name, scenario: 'safe-drain-upgrade', node_id: NODE, every: '168h', paused: true };
  const ok = await api.call('POST', '/api/v1/drills', { ...spec, id, input: { window_end: '{now+3h}' } });
  expect(ok.status).toBe(201);
  created.push(id);
  expect(ok.body).toMatchObject({ id, runbook: entry.name, scenario: 'safe-drain-upgrade', expected: 'upgraded', node_id: NODE, paused: true });
  // Each weekly run fills its own window: the schedule holds the placeholders, not the instants of today.
  const scheduled = await suite.stack.client.schedule.getHandle(`drill-${id}`).describe();
  const action = scheduled.action as { args?: DrillInput[] };
  expect(action.args?.[0]?.run_input).toMatchObject({ cluster: 'lab', window_start: '{now-5m}', window_end: '{now+3h}', db_backup_at: '{now-10m}' });
  expect(action.args?.[0]?.child_workflow_id).toBe('rolling-upgrade/lab');

  const bad = await api.call('POST', '/api/v1/drills', { ...spec, id: `${id}-bad`, input: { db_backup_at: '{now-10x}' } });
  expectEnvelope(bad, 400, 'invalid_input');
  expect(bad.body.error.details.fields).toEqual([{ path: 'input.db_backup_at', message: expect.stringMatching(/^malformed time placeholder \{now-10x\}/) }]);
  // Well formed, but not an instant once filled: the runbook's own schema refuses it.
  const text = await api.call('POST', '/api/v1/drills', { ...spec, id: `${id}-text`, input: { window_end: 'in {now+2h}' } });
  expectEnvelope(text, 400, 'invalid_input');
  expect(text.body.error.details.fields).toEqual([expect.objectContaining({ path: 'window_end' })]);
  for (const none of [`${id}-bad`, `${id}-text`]) expect((await api.call('GET', `/api/v1/drills/${none}`)).status).toBe(404);
});
