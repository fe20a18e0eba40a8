/**
 * pool-force-evict against the lab's GPU orchestrator on real Redis and MariaDB:
 * the graceful path, TERM → approved KILL, a declined KILL, a PID reused by a
 * tenant's process (never signalled), the emergency-OOM order, and plan mode
 * (nothing changed). One GPU host, so both pools share its GPUs.
 */
import type { WorkflowHandle } from '@temporalio/client';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import { statusQuery } from '../../../domain/messages';
import type { RunReport } from '../../../domain/runbook';
import { eventually } from '../../../test/support/harness';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import { decide, stepNames } from '../../gpu-fault-remediation/test/scenarios';
import { poolEvictWorkflowId, type PoolEvictRequest } from '../input';

const FAST = { grace_period: '400ms', term_wait: '300ms', kill_wait: '2s', lease_wait: '10s', poll_interval: '50ms', approval_timeout: '30s' } as const;
const LLAMA = 'pool-llama-3-8b';
const MISTRAL = 'pool-mistral-7b';

const suite = orchestratorSuite({
  backend: 'mysql',
  suite: 'poolevict',
  timeScale: 0.002,
  electionMs: 150,
  extraGpuNodes: 0,
  queueName: 'pool-evict',
  // The reset lets the replicas elect again; pool changes need a leader.
  waitForLeader: true,
});

interface KillRecord {
  kind: string;
  applied: boolean;
  detail?: { pids?: number[]; signal?: string; pool_id?: string };
}
const mutations = async (): Promise<KillRecord[]> => (await suite.orch.admin.records()).mutations;
const kills = async () => (await mutations()).filter((m) => m.kind === 'process_kill');
const pool = async (id: string) => (await suite.orch.state()).pools.find((p) => p.pool_id === id);
const livePids = async (id: string) => (await pool(id))?.workers.map((w) => w.pid) ?? [];

async function evict(req: PoolEvictRequest, workflowId = poolEvictWorkflowId(req)): Promise<WorkflowHandle> {
  return suite.stack.client.workflow.start('poolForceEvict', {
    taskQueue: suite.taskQueue,
    workflowId,
    args: [{ ...FAST, correlation_id: `test-${workflowId}-${Date.now()}`, ...req }],
  });
}

/** Waits until the run is inside `step` (so a fault can land between its reads and its signals). */
async function reached(handle: WorkflowHandle, step: string): Promise<void> {
  await eventually(async () => ((await handle.query(statusQuery)).current_step === step ? true : undefined), `step ${step}`, 30_000, 20);
}

it('stops a pool that answers the graceful stop through the API, signals nothing, and sees its leases released', async () => {
  const before = await livePids(MISTRAL);
  expect(before).toHaveLength(2);
  const report = (await (await evict({ pool_id: MISTRAL })).result()) as RunReport;

  expect(report.outcome).toBe('evicted');
  expect(report.summary).toMatch(/graceful stop through the API/);
  expect(stepNames(report)).toEqual(
    expect.arrayContaining([
      'read_orchestrator',
      'check_host_role',
      'read_pool_processes',
      'request_graceful_stop',
      'confirm_pool_released',
      'check_host_memory',
    ]),
  );
  expect(stepNames(report)).not.toContain('signal_term');
  expect(await kills()).toEqual([]);
  expect(await pool(MISTRAL)).toMatchObject({ status: 'stopped' });
  // The other pool was left alone.
  expect(await livePids(LLAMA)).toHaveLength(2);
});

it('escalates a pool that ignores SIGTERM to SIGKILL only after an approval, with jobs in hand, and its leases are reaped', async () => {
  await suite.orch.fault('long_jobs', { job_ms: 60_000 });
  await suite.orch.admin.orchestratorJobs(4, 'llama-3-8b', `evict-${Date.now()}`);
  await eventually(async () => ((await leases(LLAMA)) >= 2 ? true : undefined), 'the llama workers to hold leases');
  const pids = await livePids(LLAMA);
  await suite.orch.fault('runaway_pool', { pool_id: LLAMA, growth_mib_per_s: 8, ignore_term: true });

  const run = await evict({ pool_id: LLAMA });
  await decide(run, 'approve_sigkill', 'approve');
  const report = (await run.result()) as RunReport;

  expect(report.outcome).toBe('evicted');
  expect(report.summary).toMatch(/SIGKILL after SIGTERM/);
  const signals = (await kills()).map((k) => ({ signal: k.detail?.signal, pids: [...(k.detail?.pids ?? [])].sort() }));
  expect(signals).toEqual([
    { signal: 'TERM', pids: [...pids].sort() },
    { signal: 'KILL', pids: [...pids].sort() },
  ]);
  const approval = report.steps.find((s) => s.name === 'approve_sigkill');
  expect(approval?.status).toBe('completed');
  expect(await livePids(LLAMA)).toEqual([]);
  expect(await leases(LLAMA)).toBe(0);
});

it('leaves the workers running when the SIGKILL is declined', async () => {
  await suite.orch.fault('runaway_pool', { pool_id: LLAMA, growth_mib_per_s: 1, ignore_term: true });
  const pids = await livePids(LLAMA);
  const run = await evict({ pool_id: LLAMA });
  await decide(run, 'approve_sigkill', 'reject');
  const report = (await run.result()) as RunReport;

  expect(report.outcome).toBe('kill_declined');
  expect((await kills()).map((k) => k.detail?.signal)).toEqual(['TERM']);
  expect((await livePids(LLAMA)).sort()).toEqual([...pids].sort());
});

it('never signals a PID that a tenant process took over after the run read it', async () => {
  await suite.orch.fault('runaway_pool', { pool_id: LLAMA, growth_mib_per_s: 1, ignore_term: true });
  const run = await evict({ pool_id: LLAMA, grace_period: '3s' });
  await reached(run, 'wait_for_graceful_stop');
  const reused = (await suite.orch.fault('pid_reused', { pool_id: LLAMA })).pid as number;
  await decide(run, 'approve_sigkill', 'approve');
  const report = (await run.result()) as RunReport;

  expect(report.outcome).toBe('evicted');
  const signalled = (await kills()).flatMap((k) => k.detail?.pids ?? []);
  expect(signalled).not.toContain(reused);
  expect(signalled.length).toBeGreaterThan(0);
  const waited = report.steps.find((s) => s.name === 'wait_for_graceful_stop');
  expect(waited?.detail).toMatch(new RegExp(`PID reused, never to be signalled: ${reused} tenant-7`));
  expect((await suite.orch.state()).other_processes).toEqual([expect.objectContaining({ pid: reused, user: 'tenant-7' })]);
});

it('in an OOM emergency evicts the pool holding the most GPU memory first, without asking, until every GPU is under the threshold', async () => {
  // Both pools share GPUs 0 and 1; llama's workers grow until GPU memory passes 90 %.
  await suite.orch.fault('runaway_pool', { pool_id: LLAMA, growth_mib_per_s: 256, ignore_term: true });
  await eventually(async () => ((await nvmlPct()) > 90 ? true : undefined), 'GPU memory above 90%');

  const run = await evict({ emergency_oom: { threshold_pct: 20 } });
  const report = (await run.result()) as RunReport;

  expect(report.outcome).toBe('memory_relieved');
  // Largest first: the runaway llama pool (SIGKILL, no approval), then mistral, still above 20 % alone.
  expect(report.summary).toMatch(new RegExp(`${LLAMA} \\(\\d+ MiB GPU, SIGKILL after SIGTERM.*; ${MISTRAL} \\(\\d+ MiB GPU, graceful stop`));
  expect(stepNames(report)).not.toContain('approve_sigkill');
  expect(await livePids(LLAMA)).toEqual([]);
  expect(await livePids(MISTRAL)).toEqual([]);
  expect(await nvmlPct()).toBe(0);
});

it('ends below_threshold, touching nothing, when no GPU is above the threshold', async () => {
  const report = (await (await evict({ emergency_oom: { threshold_pct: 90 } })).result()) as RunReport;
  expect(report.outcome).toBe('below_threshold');
  expect(await mutations()).toEqual([]);
});

it('plans an eviction without changing anything, and a pool that is not running is already stopped', async () => {
  await suite.orch.fault('runaway_pool', { pool_id: LLAMA, growth_mib_per_s: 1, ignore_term: true });
  const pids = await livePids(LLAMA);
  const planned = (await (
    await evict({ pool_id: LLAMA, run_mode: 'plan' }, `${poolEvictWorkflowId({ pool_id: LLAMA })}/plan/${Date.now()}`)
  ).result()) as RunReport;

  expect(planned.outcome).toBe('planned');
  expect(await mutations()).toEqual([]);
  expect((await livePids(LLAMA)).sort()).toEqual([...pids].sort());
  const plan = (
    await suite.stack.pool.query<{ plan: { actions: { kind: string; step: string }[] } }>('SELECT plan FROM runbook_plans WHERE workflow_id = $1', [
      planned.workflow_id,
    ])
  ).rows[0]!.plan;
  expect(plan.actions.map((a) => a.step)).toEqual([
    'request_graceful_stop',
    'wait_for_graceful_stop',
    'escalate_signals',
    'confirm_pool_released',
    'check_host_memory',
    'check_other_pools',
  ]);

  const gone = (await (await evict({ pool_id: 'pool-nonexistent' })).result()) as RunReport;
  expect(gone.outcome).toBe('already_stopped');
});

// ---- helpers on the lab's own API and the orchestrator's ----

async function leases(poolId: string): Promise<number> {
  const res = await fetch(new URL(`/leases?pool_id=${poolId}`, suite.orch.cluster.replicas[0]!.api_url));
  return ((await res.json()) as { leases: unknown[] }).leases.length;
}

async function nvmlPct(): Promise<number> {
  const text = await (await fetch(new URL('/metrics', suite.orch.cluster.replicas[0]!.api_url))).text();
  const values = text
    .split('\n')
    .filter((l) => l.startsWith('gpu_orchestrator_nvml_mem_util_pct{'))
    .map((l) => Number(l.slice(l.lastIndexOf(' ') + 1)));
  return Math.max(...values);
}

it('drill force-evict-test-pool: a runaway test pool on the node evicted, every other pool still running, the drill passes', async () => {
  const { poolForceEvictRunbook } = await import('../definition');
  const report = await runDrill(suite.stack.client, suite.taskQueue, drillInputFor(poolForceEvictRunbook, poolForceEvictRunbook.drills![0]!, 'dev-gpu-1'));

  expect(report).toMatchObject({ passed: true, outcome: 'evicted', expected: 'evicted' });
  expect(await pool('drill-pool-dev-gpu-1')).toMatchObject({ status: 'stopped', workers: [] });
  expect(await livePids(LLAMA)).toHaveLength(2);
  expect(await livePids(MISTRAL)).toHaveLength(2);
  expect((await kills()).map((k) => k.detail?.signal)).toEqual(['TERM', 'KILL']);
});
