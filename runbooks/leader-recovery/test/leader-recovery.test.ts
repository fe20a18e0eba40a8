/**
 * leader-recovery against a lab of its own running the orchestrator, once on MariaDB
 * (GET_LOCK) and once on PostgreSQL (advisory lock): a healthy leader is left alone;
 * a killed leader is replaced without the run touching the lock; replicas that are all
 * down are brought back by a restart; a stale lock is freed only after proof and two
 * distinct approvers who did not request the run; a partitioned leader's live lock is
 * never freed; plan mode changes nothing.
 */
import { WorkflowUpdateFailedError, type WorkflowHandle } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import { quote } from 'shell-quote';
import { createLeaderLockActivities } from '../../../capabilities/orchestrator/leader-lock-activities';
import { OrchestratorApi, type LeaderStatus } from '../../../capabilities/orchestrator/orchestrator-api';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import { findHost } from '../../../domain/inventory';
import type { LockHolder } from '../../../domain/leader-recovery';
import { approvalUpdate, statusQuery } from '../../../domain/messages';
import { MEMO_REQUESTED_BY, type RunReport, type RunStatus } from '../../../domain/runbook';
import type { StepContext } from '../../../domain/step-context';
import { lockHolder } from '../../../lab/orchestrator/leader-lock';
import { openSql, type Sql } from '../../../lab/orchestrator/sql';
import { run as ssh } from '../../../test/lab/support';
import { eventually, testLogger } from '../../../test/support/harness';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import { leaderRecoveryWorkflowId, type LeaderRecoveryRequest } from '../input';
import { leaderRecoveryRunbook } from '../definition';

/** Short waits so the real workflow runs in seconds (elections every 200 ms of real time). */
const FAST = {
  election_grace: '1s',
  takeover_timeout: '5s',
  min_idle: '1s',
  lookback: '10m',
  approval_timeout: '2m',
  poll_interval: '100ms',
} as const;
/** An approver who requests the run and so may not decide it. */
const REQUESTER = 'alice';

describe.each(['mysql', 'postgres'] as const)('leader-recovery on %s', (backend) => {
  const suite = orchestratorSuite({ backend, suite: 'leader_recovery', timeScale: 0.002, queueName: `leader-recovery-${backend}` });
  let sql: Sql;
  beforeAll(() => {
    sql = openSql({ kind: backend, url: suite.orch.cluster.db_url }, 'leader-recovery test', 2);
  });
  suite.beforeTeardown(async () => {
    await sql?.close();
  });

  const replicaNodes = () => suite.orch.cluster.replicas.map((r) => r.node_id);
  const status = (): Promise<LeaderStatus> => new OrchestratorApi(suite.orch.cluster).leaderStatus();
  const waitLeader = (notPid?: number) =>
    eventually(async () => {
      const s = await status().catch(() => undefined);
      return s?.leader && s.leader.pid !== notPid ? s.leader : undefined;
    }, 'a leader');
  /** Nobody leads and `session` holds the lock: what the alert "leader lease stale" sees. */
  const waitLeaderless = (session: number) =>
    eventually(async () => {
      const s = await status().catch(() => undefined);
      return s && s.leader === null && s.lock.holder_session_id === session ? s : undefined;
    }, 'no leader, the lock held');
  const holder = () => lockHolder(sql, suite.orch.cluster.lock_name);
  const sessionExists = async (id: number) =>
    (backend === 'mysql'
      ? await sql.query('SELECT ID FROM information_schema.PROCESSLIST WHERE ID = ?', [id])
      : await sql.query('SELECT pid FROM pg_stat_activity WHERE pid = ?', [id])
    ).length === 1;
  /** What the run changed on the replica hosts (the lab records every applied mutation). */
  const replicaMutations = async () => {
    const out: string[] = [];
    for (const n of replicaNodes()) out.push(...(await suite.orch.admin.records(n)).mutations.filter((m) => m.applied).map((m) => `${n}:${m.kind}`));
    return out;
  };
  const start = (input: Partial<LeaderRecoveryRequest> = {}, requestedBy?: string): Promise<WorkflowHandle> =>
    suite.stack.client.workflow.start('leaderRecovery', {
      taskQueue: suite.taskQueue,
      workflowId: `${leaderRecoveryWorkflowId(suite.orch.cluster.name)}/${backend}/${Date.now()}`,
      args: [{ cluster: suite.orch.cluster.name, ...FAST, correlation_id: `test-leader-${backend}-${Date.now()}`, ...input }],
      ...(requestedBy ? { memo: { [MEMO_REQUESTED_BY]: requestedBy } } : {}),
    });
  const steps = (r: RunReport) => r.steps.map((s) => s.name);

  test('a healthy leader: nothing is changed', async () => {
    const leader = await waitLeader();
    const report: RunReport = await (await start()).result();
    expect(report.outcome).toBe('leader_healthy');
    expect(report.summary).toContain(leader.replica_id);
    expect(steps(report)).toEqual(['read_leader_status', 'resolve_replica_hosts', 'read_replica_journals']);
    expect(await replicaMutations()).toEqual([]);
  });

  test('a killed leader: the replicas elect again on their own; the run changes nothing and frees no lock', async () => {
    const first = await waitLeader();
    const applied = (await suite.orch.fault('kill_leader')) as { lock_session_id: number; pid: number };
    const report: RunReport = await (await start()).result();
    expect(report.outcome).toBe('recovered_automatically');
    expect(report.summary).toMatch(/pool\(s\) rehydrated/);
    expect(steps(report)).not.toEqual(expect.arrayContaining(['restart_replica']));
    expect(steps(report)).not.toContain('end_lock_session');
    expect(steps(report)).toContain('verify_pools_rehydrated');
    expect(report.approvals).toEqual([]);
    expect(await replicaMutations()).toEqual([]);
    // The server dropped the dead process's session itself; someone else holds the lock now.
    const now = await waitLeader(first.pid);
    expect(now.pid).not.toBe(applied.pid);
    expect(await holder()).not.toBe(applied.lock_session_id);
  });

  test('every replica stopped: a restart on one replica host brings a leader back', async () => {
    await waitLeader();
    for (const n of replicaNodes()) {
      const r = await ssh(findHost(suite.orch.lab.inventory, n)!, suite.orch.lab.clientKeyPath, quote(['systemctl', 'stop', 'gpu-orchestrator.service']));
      expect(r.code).toBe(0);
    }
    const report: RunReport = await (await start()).result();
    expect(report.outcome).toBe('recovered_by_restart');
    expect(steps(report)).toEqual(expect.arrayContaining(['wait_for_election', 'restart_replica', 'wait_for_takeover', 'verify_pools_rehydrated']));
    expect(steps(report)).not.toContain('inspect_lock');
    const restarts = (await replicaMutations()).filter((m) => m.endsWith(':unit_restart'));
    expect(restarts).toHaveLength(1);
    expect(await waitLeader()).toBeTruthy();
  });

  test('a stale lock: freed only after proof and two approvers, never by the requester; then a new leader and the pools', async () => {
    const first = await waitLeader();
    const applied = (await suite.orch.fault('stale_lock')) as { lock_session_id: number; pid: number; node_id: string };
    await waitLeaderless(applied.lock_session_id);
    const handle = await start({}, REQUESTER);

    const waiting = await eventually(async () => {
      const s: RunStatus = await handle.query(statusQuery);
      return s.pending_approval?.step === 'approve_lock_release' ? s : undefined;
    }, 'the lock release approval');
    // The graceful takeover came first and failed; the proof was read before anyone was asked.
    expect(waiting.steps.map((s) => s.name)).toEqual(
      expect.arrayContaining([
        'wait_for_election',
        'read_holder_process',
        'restart_replica',
        'wait_for_takeover',
        'inspect_lock',
        'prove_leader_stopped',
        'wait_for_idle_session',
      ]),
    );
    const pending = waiting.pending_approval!;
    expect(pending).toMatchObject({ kind: 'lock_release', min_approvals: 2, forbidden_approvers: [REQUESTER] });
    expect(pending.context).toMatchObject({
      backend,
      params: [applied.lock_session_id],
      holder: { session_id: applied.lock_session_id, replica: { node_id: applied.node_id, pid: applied.pid } },
      process: { node_id: applied.node_id, pid: applied.pid, running: false },
    });
    expect(pending.context.statement).toBe(backend === 'mysql' ? 'KILL ?' : 'SELECT pg_terminate_backend(?) AS ended');
    expect(await holder()).toBe(applied.lock_session_id);

    const decide = (actor: string) =>
      handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', actor, reason: `${actor}: the old leader is gone`, approval_id: pending.id }] });
    // The requester cannot approve their own run.
    await expect(decide(REQUESTER)).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    // One approval is not enough: the session still holds the lock.
    expect(await decide('sre-oncall')).toMatchObject({ state: 'pending', min_approvals: 2 });
    await expect(decide('sre-oncall')).rejects.toBeInstanceOf(WorkflowUpdateFailedError);
    expect((await handle.query(statusQuery)).pending_approval?.step).toBe('approve_lock_release');
    expect(await holder()).toBe(applied.lock_session_id);
    expect(await sessionExists(applied.lock_session_id)).toBe(true);

    expect(await decide('sre-second')).toMatchObject({ state: 'approved' });
    const report: RunReport = await handle.result();
    expect(report.outcome).toBe('recovered_lock_freed');
    expect(report.approvals).toEqual([expect.objectContaining({ step: 'approve_lock_release', decision: 'approve', actor: 'sre-oncall, sre-second' })]);
    expect(report.steps.find((s) => s.name === 'end_lock_session')?.detail).toMatch(new RegExp(`^ended: session ${applied.lock_session_id}`));
    expect(steps(report).slice(-3)).toEqual(['end_lock_session', 'wait_for_new_leader', 'verify_pools_rehydrated']);
    expect(await sessionExists(applied.lock_session_id)).toBe(false);
    const next = await waitLeader(first.pid);
    expect(next.pid).not.toBe(applied.pid);
    expect(await holder()).not.toBe(applied.lock_session_id);
    // Pools rehydrated: every running worker_pools row is served with its workers.
    const rows = await sql.query("SELECT pool_id, workers FROM worker_pools WHERE status = 'running'");
    const pools = await new OrchestratorApi(suite.orch.cluster).pools();
    expect(rows.length).toBeGreaterThan(0);
    for (const row of rows) expect(pools.find((p) => p.pool_id === row.pool_id)?.worker_pids).toHaveLength(Number(row.workers));
  });

  test('drill leader-failure-takeover: the stale lock injected, the run frees it with the drill approving, a new leader rehydrates the pools', async () => {
    const first = await waitLeader();
    const entry = leaderRecoveryRunbook;
    const input = drillInputFor(entry, entry.drills![0]!, 'dev-control-1', {
      drillId: `test-leader-${backend}-${Date.now()}`,
      childSuffix: `/drill/${backend}/${Date.now()}`,
    });
    const report = await runDrill(suite.stack.client, suite.taskQueue, input);

    expect(report).toMatchObject({ passed: true, outcome: 'recovered_lock_freed', expected: 'recovered_lock_freed' });
    const run = report.run as RunReport;
    expect(run.approvals).toEqual([expect.objectContaining({ step: 'approve_lock_release', decision: 'approve', actor: `drill:${input.drill_id}` })]);
    const next = await waitLeader(first.pid);
    expect(next.pid).not.toBe(first.pid);
    const rows = await sql.query("SELECT pool_id, workers FROM worker_pools WHERE status = 'running'");
    const pools = await new OrchestratorApi(suite.orch.cluster).pools();
    for (const row of rows) expect(pools.find((p) => p.pool_id === row.pool_id)?.worker_pids).toHaveLength(Number(row.workers));
  });

  test('a partitioned leader: its live lock is never freed and the run escalates', async () => {
    await waitLeader();
    const applied = (await suite.orch.fault('partitioned_leader')) as { lock_session_id: number; pid: number; node_id: string };
    await waitLeaderless(applied.lock_session_id);
    const report: RunReport = await (await start()).result();
    expect(report.outcome).toBe('lock_held_by_live_leader');
    expect(report.summary).toContain(`pid ${applied.pid} on ${applied.node_id}`);
    expect(steps(report)).toContain('read_holder_process');
    expect(steps(report)).not.toContain('end_lock_session');
    expect(steps(report)).not.toContain('approve_lock_release');
    expect(await replicaMutations()).toEqual([]);
    expect(await holder()).toBe(applied.lock_session_id);
    expect(await sessionExists(applied.lock_session_id)).toBe(true);
  });

  test('plan mode on a stale lock: the plan is recorded, nothing is changed, the holder session is untouched', async () => {
    await waitLeader();
    const applied = (await suite.orch.fault('stale_lock')) as { lock_session_id: number };
    await waitLeaderless(applied.lock_session_id);
    const report: RunReport = await (await start({ run_mode: 'plan' })).result();
    expect(report.outcome).toBe('planned');
    expect(steps(report)).not.toContain('restart_replica');
    expect(report.plan?.lines.join('\n')).toContain('restart_replica: ssh');
    expect(report.plan?.lines.join('\n')).toContain(`end_lock_session: sql ${backend === 'mysql' ? 'KILL ?' : 'SELECT pg_terminate_backend(?)'}`);
    expect(await replicaMutations()).toEqual([]);
    expect(await holder()).toBe(applied.lock_session_id);
    expect(await sessionExists(applied.lock_session_id)).toBe(true);
  });

  test('ending the session is checked again right before it, refuses a live or changed holder, and never ends anything twice', async () => {
    const acts = createLeaderLockActivities({ clusters: [suite.orch.cluster], logger: testLogger });
    const env = new MockActivityEnvironment();
    const ctx: StepContext = {
      workflow_id: 'test',
      run_id: 'test',
      runbook: 'leader-recovery',
      correlation_id: 'test',
      step: 'end_lock_session',
      idempotency_key: 'test',
    };
    await waitLeader();
    // The live leader's session is used every election round: never idle long enough.
    const live = (await status()).lock.holder_session_id!;
    expect(await env.run(acts.endLockSession, ctx, suite.orch.cluster.name, { session_id: live, started_at: null, min_idle_s: 3600 })).toMatchObject({
      result: 'no_longer_idle',
    });
    expect(await holder()).toBe(live);

    const applied = (await suite.orch.fault('stale_lock')) as { lock_session_id: number; pid: number };
    const s = await waitLeaderless(applied.lock_session_id);
    // A follower's session exists but does not hold the lock: not the one to end.
    const follower = s.replicas.find((r) => r.lock_session_id !== null && r.lock_session_id !== applied.lock_session_id && r.heartbeat_age_ms < 1000)!;
    expect(
      await env.run(acts.endLockSession, ctx, suite.orch.cluster.name, { session_id: follower.lock_session_id!, started_at: null, min_idle_s: 0 }),
    ).toMatchObject({
      result: 'holder_changed',
    });
    expect(await sessionExists(follower.lock_session_id!)).toBe(true);

    const inspected: LockHolder = await env.run(acts.inspectLeaderLock, ctx, suite.orch.cluster.name);
    expect(inspected).toMatchObject({ backend, session_id: applied.lock_session_id, replica: { pid: applied.pid } });
    const expected = { session_id: applied.lock_session_id, started_at: inspected.session?.started_at ?? null, min_idle_s: 0 };
    expect(await env.run(acts.endLockSession, ctx, suite.orch.cluster.name, expected)).toMatchObject({ result: 'ended' });
    expect(await sessionExists(applied.lock_session_id)).toBe(false);
    // A retried attempt finds the session gone and ends nothing (whoever holds the lock by then).
    await waitLeader();
    expect(await env.run(acts.endLockSession, ctx, suite.orch.cluster.name, expected)).toMatchObject({ result: 'already_gone' });
    expect(await holder()).not.toBeNull();
  });
});
