/**
 * drain-and-rolling-upgrade against a lab of its own running the orchestrator
 * (real Redis, real MariaDB, the replicas' real SSH and HTTP API), at timeScale
 * 0.002 with elections every 100 ms: an upgrade with jobs in flight loses and
 * duplicates nothing; nobody moves the consumer group; a node whose package
 * step fails rolls the others back; a stale backup or a closed window is
 * refused; plan mode changes nothing.
 */
import type { RunReport } from '../../../domain/runbook';
import { ORCHESTRATOR_DLQ, ORCHESTRATOR_GROUP, ORCHESTRATOR_STREAM } from '../../../domain/orchestrator';
import { eventually } from '../../../test/support/harness';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import {
  addJobs,
  decide,
  maintenanceMode,
  PREVIOUS_VERSION,
  querySql,
  replicaHealth,
  startUpgrade,
  statusOf,
  TARGET_VERSION,
  waitForApproval,
  waitForLeader,
  waitForStep,
} from './scenarios';

const suite = orchestratorSuite({ backend: 'mysql', suite: 'rolling_upgrade', timeScale: 0.002, electionMs: 100, queueName: 'rolling-upgrade' });

beforeEach(async () => {
  // The reset lets the replicas elect again: until a replica's own API names the leader.
  await waitForLeader(suite.orch.cluster);
});

const lab = () => ({ platformUrl: suite.orch.lab.platformUrl, platformToken: suite.orch.lab.platformToken });
const replicaNodes = () => suite.orch.cluster.replicas.map((r) => r.node_id);
const installs = async (nodeId: string) =>
  (await suite.orch.admin.records(nodeId)).mutations.filter((m) => m.kind === 'orchestrator_install' && m.applied).map((m) => m.detail?.version);
const redisRecord = async () => {
  const res = await fetch(new URL('/lab/v1/orchestrator/records', suite.orch.lab.platformUrl), {
    headers: { authorization: `Bearer ${suite.orch.lab.platformToken}` },
  });
  return ((await res.json()) as { redis_commands: { client_name: string | null; args: string[] }[] }).redis_commands;
};
const versions = async () => Object.fromEntries(Object.entries(await replicaHealth(suite.orch.cluster)).map(([n, h]) => [n, h && `${h.status} ${h.version}`]));
const everyReplica = (v: string) => Object.fromEntries(replicaNodes().map((n) => [n, `ok ${v}`]));
const runningPools = async () =>
  (await suite.orch.state()).pools
    .filter((p) => p.status === 'running')
    .map((p) => `${p.pool_id}:${p.workers.length}`)
    .sort();
const jobsOf = async (ids: string[]) =>
  (await querySql(suite.orch.cluster, `SELECT job_id, status, completions FROM orchestrator_jobs WHERE job_id IN (${ids.map(() => '?').join(', ')})`, ids)).map(
    (r) => ({ job_id: String(r.job_id), status: String(r.status), completions: Number(r.completions) }),
  );
const steps = (r: RunReport) => r.steps.map((s) => s.name);

/** Every job done exactly once (the lab's table counts each completion). */
async function expectEachProcessedOnce(ids: string[]): Promise<void> {
  const rows = await eventually(async () => {
    const r = await jobsOf(ids);
    return r.length === ids.length && r.every((j) => j.status === 'done') ? r : undefined;
  }, `${ids.length} jobs done`);
  expect(rows.filter((j) => j.completions !== 1)).toEqual([]);
  expect(new Set(rows.map((j) => j.job_id)).size).toBe(ids.length);
}

test('drain + upgrade with jobs in flight: every replica on the new version, every job processed exactly once, no dead letters', async () => {
  // Jobs take 1.5 s here: the drain has work in flight to wait for.
  await suite.orch.fault('long_jobs', { job_ms: 750_000 });
  const poolsBefore = await runningPools();
  const handle = await startUpgrade(suite.stack, suite.taskQueue);
  await waitForApproval(handle, 'approve_upgrade');
  const before = [...(await addJobs(lab(), 'before', 2)), ...(await addJobs(lab(), 'before-m', 3, 'mistral-7b'))];
  // Approved while workers hold jobs (leases in SQL): the drain starts with them in flight.
  const inFlight = await eventually(async () => {
    const held = (await querySql(suite.orch.cluster, 'SELECT job_id FROM orchestrator_leases')).map((r) => String(r.job_id));
    return held.length >= 2 ? held : undefined;
  }, 'jobs in flight');
  await decide(handle, 'approve_upgrade', 'approve');
  // Added while the orchestrator drains and while replicas restart: read only once maintenance is cleared.
  await waitForStep(handle, 'wait_drained');
  const duringDrain = await addJobs(lab(), 'during-drain', 2);
  await waitForStep(handle, 'install_version');
  const duringUpgrade = await addJobs(lab(), 'during-upgrade', 2, 'mistral-7b');
  const report = (await handle.result()) as RunReport;

  expect(report.outcome).toBe('upgraded');
  expect(report.summary).toMatch(/every job of the window processed exactly once, no dead letters/);
  expect(steps(report)).toEqual(
    expect.arrayContaining([
      'enter_maintenance',
      'wait_drained',
      'stop_pools',
      'wait_pools_stopped',
      'install_version',
      'verify_replica',
      'start_pool',
      'exit_maintenance',
      'verify_jobs',
      'verify_stream',
    ]),
  );
  // The drain waited for jobs in flight, then stopped the pools; pools came back one at a time.
  const order = steps(report);
  expect(order.indexOf('stop_pools')).toBeGreaterThan(order.lastIndexOf('wait_drained'));
  expect(order.filter((n) => n === 'start_pool')).toHaveLength(2);
  expect(order.filter((n) => n === 'install_version')).toHaveLength(2);

  expect(await versions()).toEqual(everyReplica(TARGET_VERSION));
  for (const n of replicaNodes()) expect(await installs(n)).toEqual([TARGET_VERSION]);
  await expectEachProcessedOnce([...before, ...duringDrain, ...duringUpgrade]);
  // The run's own account: every one of them, each done once.
  expect(report.steps.find((x) => x.name === 'verify_jobs')?.detail).toMatch(/^9 job\(s\) from .*: 9 done once, 0 duplicated, 0 not done, 0 dead-lettered$/);

  // Jobs in flight when the drain began finished before the pools were stopped; jobs added
  // in the window (and those the leader had not read yet) waited for maintenance to be cleared.
  const at = (name: string, which: 'started_at' | 'ended_at') => Date.parse(report.steps.find((x) => x.name === name)![which]!);
  const doneAt = async (ids: string[]) =>
    (await querySql(suite.orch.cluster, `SELECT updated_at FROM orchestrator_jobs WHERE job_id IN (${ids.map(() => '?').join(', ')})`, ids)).map((r) =>
      new Date(r.updated_at as string | Date).getTime(),
    );
  const inFlightDone = await doneAt(inFlight);
  expect(Math.max(...inFlightDone)).toBeGreaterThan(at('enter_maintenance', 'ended_at'));
  expect(Math.max(...inFlightDone)).toBeLessThanOrEqual(at('stop_pools', 'started_at'));
  expect(Math.min(...(await doneAt([...duringDrain, ...duringUpgrade])))).toBeGreaterThanOrEqual(at('exit_maintenance', 'started_at'));
  expect(await suite.orch.redis.xlen(ORCHESTRATOR_DLQ)).toBe(0);
  expect(Number(((await suite.orch.redis.xpending(ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)) as unknown[])[0])).toBe(0);
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  expect(await runningPools()).toEqual(poolsBefore);
});

test("nobody moves the consumer group's position: no XGROUP SETID (or any XGROUP change), and the runbook's own Redis commands are reads", async () => {
  await addJobs(lab(), 'seen', 4);
  const handle = await startUpgrade(suite.stack, suite.taskQueue);
  await decide(handle, 'approve_upgrade', 'approve');
  const report = (await handle.result()) as RunReport;
  expect(report.outcome).toBe('upgraded');

  const record = await redisRecord();
  expect(record.length).toBeGreaterThan(0);
  const groupChanges = record.filter((r) => r.args[0]?.toUpperCase() === 'XGROUP' && r.args[1]?.toUpperCase() !== 'CREATE');
  expect(groupChanges).toEqual([]);
  expect(record.filter((r) => r.args.some((a) => /^SETID$/i.test(a)))).toEqual([]);
  const ours = record.filter((r) => r.client_name === 'gpuaas-runbooks').map((r) => r.args[0]!.toUpperCase());
  expect(ours.length).toBeGreaterThan(0);
  expect([...new Set(ours)].sort()).toEqual(expect.arrayContaining(['XINFO', 'XPENDING']));
  expect(ours.filter((c) => !['HELLO', 'CLIENT', 'INFO', 'TIME', 'XINFO', 'XLEN', 'XPENDING', 'XRANGE'].includes(c))).toEqual([]);
});

test('the package step fails on the second node: the first is pinned back to the previous version, pools back, maintenance cleared', async () => {
  // Followers first, the leader last: the leader is the second node.
  const leader = await waitForLeader(suite.orch.cluster);
  const follower = replicaNodes().find((n) => n !== leader)!;
  await suite.orch.fault('install_fails', { node_id: leader });
  const jobs = await addJobs(lab(), 'rb', 4);
  const poolsBefore = await runningPools();

  const handle = await startUpgrade(suite.stack, suite.taskQueue);
  await decide(handle, 'approve_upgrade', 'approve');
  const report = (await handle.result()) as RunReport;

  expect(report.outcome).toBe('rolled_back');
  expect(report.summary).toMatch(/SHA256 mismatch/);
  const order = steps(report);
  expect(order.filter((n) => n === 'pin_previous_version')).toHaveLength(2);
  expect(order.indexOf('pin_previous_version')).toBeGreaterThan(order.lastIndexOf('install_version'));
  expect(order.indexOf('start_pool')).toBeGreaterThan(order.lastIndexOf('pin_previous_version'));
  expect(report.steps.find((s) => s.name === 'install_version' && s.status === 'failed')?.error?.type).toBe('InstallFailed');

  expect(await versions()).toEqual(everyReplica(PREVIOUS_VERSION));
  // The follower went up and back; the failing leader was never changed (its pin was a no-op).
  expect(await installs(follower)).toEqual([TARGET_VERSION, PREVIOUS_VERSION]);
  expect(await installs(leader)).toEqual([]);
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  expect(await runningPools()).toEqual(poolsBefore);
  await expectEachProcessedOnce(jobs);
  expect(await suite.orch.redis.xlen(ORCHESTRATOR_DLQ)).toBe(0);
});

test('the verification can fail: a job of the window completed twice is reported and the run escalates', async () => {
  const handle = await startUpgrade(suite.stack, suite.taskQueue);
  await waitForApproval(handle, 'approve_upgrade');
  const [twice] = await addJobs(lab(), 'twice', 1);
  await expectEachProcessedOnce([twice!]);
  // As a duplicate delivery that slipped past the orchestrator's check would leave it.
  await querySql(suite.orch.cluster, 'UPDATE orchestrator_jobs SET completions = 2 WHERE job_id = ?', [twice]);
  await decide(handle, 'approve_upgrade', 'approve');
  const report = (await handle.result()) as RunReport;
  expect(report.outcome).toBe('escalated');
  expect(report.summary).toMatch(/verification found: 1 job\(s\) processed more than once \(twice-1 ×2\)/);
  expect(await versions()).toEqual(everyReplica(TARGET_VERSION));
});

/** Every change the lab recorded on the replica hosts, in order, as kind:mode (or kind). */
async function replicaChanges(): Promise<string[]> {
  const all = (await Promise.all(replicaNodes().map(async (n) => (await suite.orch.admin.records(n)).mutations))).flat().filter((m) => m.applied);
  return all.sort((a, b) => a.seq - b.seq).map((m) => (m.detail?.mode ? `${m.kind}:${String(m.detail.mode)}` : m.kind));
}

test('a drain that does not finish asks the approver: approve waits longer, reject aborts with maintenance cleared and nothing stopped or upgraded', async () => {
  // Jobs take 7.2 s (the lab's longest): far longer than the run waits for its drain.
  await suite.orch.fault('long_jobs', { job_ms: 3_600_000 });
  const handle = await startUpgrade(suite.stack, suite.taskQueue, { drain_timeout: '1s' });
  await waitForApproval(handle, 'approve_upgrade');
  await addJobs(lab(), 'slow', 2);
  await eventually(
    async () => ((await querySql(suite.orch.cluster, 'SELECT lease_id FROM orchestrator_leases')).length >= 2 ? true : undefined),
    'jobs in flight',
  );
  const pidsBefore = (await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`);
  await decide(handle, 'approve_upgrade', 'approve');
  await decide(handle, 'approve_drain_timeout', 'approve');
  await eventually(async () => {
    const st = await statusOf(handle);
    return st?.pending_approval?.step === 'approve_drain_timeout' && st.approvals.length === 2 ? true : undefined;
  }, 'the second drain-timeout approval');
  await decide(handle, 'approve_drain_timeout', 'reject');
  const report = (await handle.result()) as RunReport;

  expect(report.outcome).toBe('escalated');
  expect(report.summary).toMatch(
    /the drain did not finish \(\d+ pending, [1-9]\d* lease\(s\)\) and the wait was aborted by sre-oncall; maintenance cleared, nothing upgraded/,
  );
  expect(steps(report).filter((n) => n === 'wait_drained')).toHaveLength(2);
  expect(steps(report)).not.toContain('stop_pools');
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  // The only changes: into maintenance and out again; no pool stopped, nothing installed.
  expect(await replicaChanges()).toEqual(['maintenance_mode:drain', 'maintenance_mode:normal']);
  expect((await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`)).toEqual(pidsBefore);
});

test('a run cancelled while it drains clears maintenance on its way out (compensation), leaving pools and versions as they were', async () => {
  await suite.orch.fault('long_jobs', { job_ms: 3_600_000 });
  const handle = await startUpgrade(suite.stack, suite.taskQueue);
  await waitForApproval(handle, 'approve_upgrade');
  await addJobs(lab(), 'cancelled', 2);
  await eventually(
    async () => ((await querySql(suite.orch.cluster, 'SELECT lease_id FROM orchestrator_leases')).length >= 2 ? true : undefined),
    'jobs in flight',
  );
  const pidsBefore = (await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`);
  await decide(handle, 'approve_upgrade', 'approve');
  await waitForStep(handle, 'wait_drained');
  expect(await maintenanceMode(suite.orch.cluster)).toBe('drain');
  await handle.cancel();
  await expect(handle.result()).rejects.toThrow();

  const report = (await statusOf(handle))!;
  expect(report.outcome).toBe('cancelled');
  expect(report.steps.find((x) => x.name === 'enter_maintenance')?.status).toBe('compensated');
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  // The only changes: into maintenance and out again; no pool stopped, nothing installed.
  expect(await replicaChanges()).toEqual(['maintenance_mode:drain', 'maintenance_mode:normal']);
  expect((await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`)).toEqual(pidsBefore);
});

test('every replica already on the target version: nothing to do, nothing asked', async () => {
  const report = (await (await startUpgrade(suite.stack, suite.taskQueue, { target_version: PREVIOUS_VERSION })).result()) as RunReport;
  expect(report.outcome).toBe('already_at_version');
  expect(steps(report)).not.toContain('approve_upgrade');
  for (const n of replicaNodes()) expect((await suite.orch.admin.records(n)).mutations).toEqual([]);
});

test.each([
  ['a stale database backup', { db_backup_at: new Date(Date.now() - 3 * 86_400_000).toISOString() }, /the database backup is stale/],
  [
    'outside the maintenance window',
    { window_start: new Date(Date.now() + 3_600_000).toISOString(), window_end: new Date(Date.now() + 7_200_000).toISOString() },
    /outside the maintenance window: it opens at/,
  ],
])('%s is refused before anything changes', async (_what, over, why) => {
  const poolsBefore = await runningPools();
  const handle = await startUpgrade(suite.stack, suite.taskQueue, over);
  const report = (await handle.result()) as RunReport;
  expect(report.outcome).toBe('refused');
  expect(report.summary).toMatch(why);
  expect(steps(report)).toEqual(expect.arrayContaining(['check_maintenance_window', 'check_db_backup', 'check_redis_backup']));
  expect(steps(report)).not.toContain('approve_upgrade');
  expect(steps(report)).not.toContain('enter_maintenance');
  for (const n of replicaNodes()) expect((await suite.orch.admin.records(n)).mutations).toEqual([]);
  expect(await versions()).toEqual(everyReplica(PREVIOUS_VERSION));
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  expect(await runningPools()).toEqual(poolsBefore);
});

test('plan mode: the plan names every change, and nothing is changed', async () => {
  const pidsBefore = (await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`);
  const handle = await startUpgrade(suite.stack, suite.taskQueue, { run_mode: 'plan' });
  const report = (await handle.result()) as RunReport;
  expect(report.outcome).toBe('planned');
  expect(steps(report)).not.toContain('approve_upgrade');
  const lines = report.plan!.lines.join('\n');
  expect(lines).toMatch(/enter_maintenance: POST \/control\/maintenance \{"mode":"drain"\}/);
  expect(lines).toMatch(/stop_pools: POST \/pools\/stop-all/);
  expect(lines).toMatch(/install_version: ssh \S+ \(\w+\) \/usr\/local\/sbin\/gpu-orchestrator-install 2\.4\.0/);
  expect(lines).toMatch(/pin_previous_version: ssh \S+ \(\w+\) \/usr\/local\/sbin\/gpu-orchestrator-install 2\.3\.1/);
  expect(lines).toMatch(/start_pool: POST \/pools\/pool-llama-3-8b\/start/);
  expect(lines).not.toMatch(/SETID/);
  // maintenance, stop-all, 2 installs, 2 pool starts, exit maintenance
  expect(report.plan!.mutations).toBe(7);

  for (const n of replicaNodes()) expect((await suite.orch.admin.records(n)).mutations).toEqual([]);
  expect(await versions()).toEqual(everyReplica(PREVIOUS_VERSION));
  expect(await maintenanceMode(suite.orch.cluster)).toBe('normal');
  expect((await suite.orch.state()).pools.map((p) => `${p.pool_id}:${p.workers.map((w) => w.pid).join(',')}`)).toEqual(pidsBefore);
  const ours = (await redisRecord()).filter((r) => r.client_name === 'gpuaas-runbooks').map((r) => r.args[0]!.toUpperCase());
  expect(ours.filter((c) => !['HELLO', 'CLIENT', 'INFO', 'TIME', 'XINFO', 'XLEN', 'XPENDING'].includes(c))).toEqual([]);
});
