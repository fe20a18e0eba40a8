import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HostDescription, InventoryActivities } from '../../capabilities/inventory/inventory-activities';
import type { DrainActivities } from '../../capabilities/orchestrator/drain-activities';
import type { JobAccount, JobLedgerActivities } from '../../capabilities/orchestrator/job-ledger-activities';
import type { OrchestratorActivities, OrchestratorSnapshot } from '../../capabilities/orchestrator/orchestrator-activities';
import type { OrchestratorPool } from '../../capabilities/orchestrator/orchestrator-api';
import { orchestratorRequests } from '../../capabilities/orchestrator/requests';
import type { ReplicaInstall, ReplicaUpgradeActivities } from '../../capabilities/orchestrator/replica-upgrade-activities';
import type { StreamActivities, StreamState } from '../../capabilities/orchestrator/stream-activities';
import { installOrchestratorCommand } from '../../capabilities/orchestrator/commands';
import { ErrorType } from '../../domain/errors';
import { hostRoleViolation } from '../../domain/host-role-rules';
import { isActionAllowed } from '../../domain/host-roles';
import { compareStreamIds, dbBackupProblem, redisBackupProblem, upgradeOrder, windowProblem } from '../../domain/orchestrator-upgrade';
import type { Plan, PlannedAction } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import { ActivityOptionSets } from '../../engine/activity-options';
import { failureOf } from '../../engine/failures';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, requireDrillable } from '../../engine/target';
import { onHost } from '../app-control-host';
import { RUNBOOK_ROLLING_UPGRADE, RollingUpgradeInputSchema, rollingUpgradeRequestSignal, type RollingUpgradeInput, type RollingUpgradeRequest } from './input';

const acts = {
  orchestrator: proxyActivities<OrchestratorActivities & StreamActivities & Pick<DrainActivities, 'stopAllPools'>>(ActivityOptionSets.platformCall),
  replicas: proxyActivities<ReplicaUpgradeActivities>(ActivityOptionSets.hostRead),
  inventory: proxyActivities<InventoryActivities>(ActivityOptionSets.lookup),
};

/** A replica host and what it ran before the run touched it. */
interface Replica {
  host: HostDescription;
  before: ReplicaInstall;
}

/**
 * drain-and-rolling-upgrade: seed 004's "Safe drain + rolling upgrade (no data
 * loss)" for the orchestrator's replicas, made safe.
 *
 * pre-checks (read only): the cluster and its replica hosts, the installed versions,
 * the maintenance window, the database's and Redis's backups, the stream's position →
 * plan → approval (fleet_change) → procedure: maintenance mode drain (the leader stops
 * reading new entries; the consumer group's position is never moved), wait until
 * nothing is pending and no lease is held, stop all pools, then node by node (followers
 * first, the leader last): the package step, /health ok on the new version with a leader
 * → return to service: pools back one at a time, each running before the next, then
 * maintenance cleared → verify: every job added before and during the window done
 * exactly once, no dead-letter growth, the group's position only moved forward, every
 * replica on its version → or roll back when a node's upgrade fails: the previous
 * version pinned node by node on the nodes already upgraded, then the same return to
 * service and verification.
 */
export async function drainAndRollingUpgrade(request: RollingUpgradeRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(RollingUpgradeInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_ROLLING_UPGRADE, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(rollingUpgradeRequestSignal, (req) =>
    run.queueEvidence('request', 'alert', `upgrade to ${req.target_version} requested again by ${req.source}`, req, req.correlation_id),
  );
  return runRunbook(run, input, () => new RollingUpgradeRun(run, input).upgrade());
}

/**
 * Where the window's work begins in the stream: the oldest entry pending when it opened
 * (delivered, not settled), or else the first entry after the group's position. Entries
 * before it were acknowledged before the window, settled by earlier runs of the orchestrator.
 */
function windowStart(s: StreamState): string {
  if (s.oldest_pending_id) return s.oldest_pending_id;
  return `(${s.group?.last_delivered_id ?? '0-0'}`;
}

class RollingUpgradeRun {
  private readonly drainWait: DrainActivities;
  private readonly poolWait: DrainActivities;
  private readonly replicaWait: ReplicaUpgradeActivities;
  private readonly installs: ReplicaUpgradeActivities;
  private readonly ledger: JobLedgerActivities;
  private replicas: Replica[] = [];

  constructor(
    private readonly run: RunbookRun,
    private readonly input: RollingUpgradeInput,
  ) {
    const poll = input.poll_interval;
    this.drainWait = proxyActivities<DrainActivities>(ActivityOptionSets.boundedWait(input.drain_timeout, poll));
    this.poolWait = proxyActivities<DrainActivities>(ActivityOptionSets.boundedWait(input.pool_timeout, poll));
    this.replicaWait = proxyActivities<ReplicaUpgradeActivities>(ActivityOptionSets.boundedWait(input.replica_timeout, poll));
    // The package step heartbeats every second while it runs.
    this.installs = proxyActivities<ReplicaUpgradeActivities>(ActivityOptionSets.budgetedJob(input.replica_timeout, 1_000));
    this.ledger = proxyActivities<JobLedgerActivities>(ActivityOptionSets.boundedWait(input.verify_timeout, poll));
  }

  private get cluster(): string {
    return this.input.cluster;
  }

  async upgrade(): Promise<RunbookResult> {
    const { run, input } = this;

    // ---- pre-checks: read only ----
    run.phase('pre_checks');
    const snapshot = await run.step('read_orchestrator', (ctx) => acts.orchestrator.readOrchestrator(ctx, this.cluster), {
      describe: (s) =>
        `leader ${s.leader?.node_id ?? 'none'}; ${s.replicas.map((r) => `${r.node_id} ${r.health?.status ?? 'down'} ${r.health?.version ?? '?'}`).join(', ')}; ${s.pools.length} pool(s) listed`,
    });
    this.replicas = await this.resolveReplicaHosts(snapshot);
    const refusals: string[] = [];
    const unhealthy = snapshot.replicas.filter((r) => r.health?.status !== 'ok');
    if (unhealthy.length) refusals.push(`replica(s) not healthy before the upgrade: ${unhealthy.map((r) => r.node_id).join(', ')}`);
    if (!snapshot.leader) refusals.push('no replica leads now (GET /status/leader)');
    const unknown = this.replicas.filter((r) => r.before.version === null);
    if (unknown.length) refusals.push(`the installed version cannot be read on ${unknown.map((r) => r.host.hostname).join(', ')}`);

    const window = await this.checkWindow();
    if (window) refusals.push(window);
    const db = await run.step('check_db_backup', async () => dbBackupProblem(Date.now(), input.db_backup_at, input.backup_max_age), {
      describe: (p) => p ?? `database backup of ${input.db_backup_at} is recent enough`,
    });
    if (db) refusals.push(db);
    const redis = await run.step(
      'check_redis_backup',
      async (ctx) => {
        const p = await acts.orchestrator.readRedisPersistence(ctx, this.cluster);
        return { persistence: p, problem: redisBackupProblem(p, p.server_time, input.backup_max_age) };
      },
      { describe: (r) => r.problem ?? (r.persistence.aof_enabled ? 'AOF on, last write and rewrite ok' : 'last RDB snapshot ok and recent') },
    );
    if (redis.problem) refusals.push(redis.problem);
    const before = await this.readStream();
    if (refusals.length) return { outcome: 'refused', summary: `refused, nothing changed: ${refusals.join('; ')}` };

    const todo = this.replicas.filter((r) => r.before.version !== input.target_version || !r.before.active);
    if (todo.length === 0) {
      return { outcome: 'already_at_version', summary: `every replica of ${this.cluster} already runs ${input.target_version}; nothing changed` };
    }
    const order = upgradeOrder(
      todo.map((r) => r.host.node_id),
      snapshot.leader?.node_id ?? null,
    ).map((id) => todo.find((r) => r.host.node_id === id)!);
    const planned = snapshot.pools.filter((p) => p.status === 'running');

    const stop = await planCheckpoint(run, this.plan(order, planned), input.plan_hash);
    if (stop) return stop;

    const from = [...new Set(order.map((r) => r.before.version))].join(', ');
    const approval = await run.approval(
      'approve_upgrade',
      `Upgrade ${this.cluster}'s orchestrator from ${from} to ${input.target_version}, node by node (${order.map((r) => r.host.hostname).join(' → ')}), behind a maintenance-mode drain?`,
      {
        cluster: this.cluster,
        target_version: input.target_version,
        order: order.map((r) => ({ node_id: r.host.node_id, hostname: r.host.hostname, from: r.before.version })),
        pools: planned.map((p) => p.pool_id),
        window: { start: input.window_start, end: input.window_end },
        backups: { db_backup_at: input.db_backup_at, redis_aof: redis.persistence.aof_enabled },
        stream: before,
        plan: run.status.plan?.lines,
      },
      input.approval_timeout,
      {
        kind: 'fleet_change',
        disruption: `no new job starts on ${this.cluster} from the drain until its pools are back; each replica restarts once; the leader moves once`,
      },
    );
    if (approval.decision !== 'approve') {
      const why = approval.decision === 'timeout' ? 'no decision before the approval timeout' : `rejected by ${approval.actor}: ${approval.reason}`;
      return { outcome: 'declined', summary: `upgrade to ${input.target_version} not approved (${why}); nothing changed` };
    }
    // The decision may have taken a while: the window must still be open.
    const late = await this.checkWindow();
    if (late) return { outcome: 'refused', summary: `refused after the approval, nothing changed: ${late}` };

    // ---- procedure: drain, pools stopped, node by node ----
    run.phase('procedure');
    await run.step('enter_maintenance', (ctx) => acts.orchestrator.setMaintenance(ctx, this.cluster, 'drain'), {
      describe: () => 'POST /control/maintenance {"mode":"drain"}: the leader reads no new entries; the group position is left as it is',
    });
    run.onRollback('enter_maintenance', () => acts.orchestrator.setMaintenance(run.context('exit_maintenance'), this.cluster, 'normal'));

    for (;;) {
      const drained = await run.step('wait_drained', (ctx) => this.drainWait.waitDrained(ctx, this.cluster, input.drain_timeout, input.poll_interval), {
        describe: (d) =>
          d.drained ? `nothing pending, no lease, after ${d.waited_ms} ms` : `${d.pending} pending, ${d.leases} lease(s) after ${d.waited_ms} ms`,
      });
      if (drained.drained) break;
      const more = await run.approval(
        'approve_drain_timeout',
        `${this.cluster} still has ${drained.pending} pending job(s) and ${drained.leases} lease(s) after ${input.drain_timeout} ms in drain. Approve to keep waiting another ${input.drain_timeout} ms; reject to abort (maintenance cleared, nothing upgraded).`,
        { pending: drained.pending, leases: drained.leases, waited_ms: drained.waited_ms },
        input.approval_timeout,
        { kind: 'generic' },
      );
      if (more.decision !== 'approve') {
        await this.exitMaintenance();
        return {
          outcome: 'escalated',
          summary: `the drain did not finish (${drained.pending} pending, ${drained.leases} lease(s)) and the wait was ${more.decision === 'timeout' ? 'not extended before the timeout' : `aborted by ${more.actor}`}; maintenance cleared, nothing upgraded`,
        };
      }
    }

    // The pools that run now (the approval may have been a while ago) are the ones brought back.
    const running = await run.step('read_pools', async (ctx) => (await acts.orchestrator.readPools(ctx, this.cluster)).filter((p) => p.status === 'running'), {
      describe: (ps) => ps.map((p) => `${p.pool_id} (${p.workers} workers on ${p.node_id})`).join(', ') || 'none running',
    });
    await run.step('stop_pools', (ctx) => acts.orchestrator.stopAllPools(ctx, this.cluster), {
      describe: (r) => `POST /pools/stop-all: ${r.stopping.join(', ') || 'none running'}`,
    });
    run.onRollback('stop_pools', () => this.restartPoolsQuietly(running));
    const stopped = await run.step('wait_pools_stopped', (ctx) => this.poolWait.waitPoolsStopped(ctx, this.cluster, input.pool_timeout, input.poll_interval), {
      describe: (s) =>
        s.stopped ? `GET /pools lists no running pool (${s.waited_ms} ms)` : `still listed: ${s.remaining.map((p) => `${p.pool_id} ${p.status}`).join(', ')}`,
    });
    if (!stopped.stopped) {
      const back = await this.returnToService(running);
      return {
        outcome: 'escalated',
        summary: `pools did not stop within ${input.pool_timeout} ms (${stopped.remaining.map((p) => p.pool_id).join(', ')}); nothing upgraded; ${back.summary}`,
      };
    }

    const touched: Replica[] = [];
    let failure: string | null = null;
    for (const r of order) {
      touched.push(r);
      const problem = await this.upgradeReplica(r, input.target_version, 'install_version');
      if (problem) {
        failure = problem;
        break;
      }
    }

    if (failure) {
      // ---- rollback: the previous version pinned node by node, newest first ----
      run.phase('rollback');
      for (const r of [...touched].reverse()) {
        const problem = await this.upgradeReplica(r, r.before.version!, 'pin_previous_version');
        if (problem) {
          throw ApplicationFailure.create({
            type: ErrorType.InstallFailed,
            message: `rolling back ${r.host.hostname} to ${r.before.version} failed too (${problem}) after: ${failure}`,
            nonRetryable: true,
          });
        }
      }
    }

    const back = await this.returnToService(running);
    if (!back.ok) {
      return { outcome: 'escalated', summary: `${failure ? `rolled back after: ${failure}; ` : `every replica on ${input.target_version}; `}${back.summary}` };
    }

    // ---- verify: no job lost or duplicated, no dead letters, the group never moved back ----
    run.phase('verify');
    const problems = await this.verify(before, failure ? null : input.target_version);
    const what = failure
      ? `rolled back to ${order.map((r) => `${r.host.hostname} ${r.before.version}`).join(', ')} after: ${failure}`
      : `${this.replicas.map((r) => r.host.hostname).join(', ')} on ${input.target_version}`;
    if (problems.length) return { outcome: 'escalated', summary: `${what}; but verification found: ${problems.join('; ')}` };
    return {
      outcome: failure ? 'rolled_back' : 'upgraded',
      summary: `${what}; ${back.summary}; every job of the window processed exactly once, no dead letters`,
    };
  }

  // ---------------------------------------------------------------------------------------------

  /** Every replica's host from the inventory (a control host the package step may run on) and what it runs now. */
  private async resolveReplicaHosts(snapshot: OrchestratorSnapshot): Promise<Replica[]> {
    const { run } = this;
    const hosts = await run.step(
      'resolve_replica_hosts',
      async () => {
        const out: HostDescription[] = [];
        for (const r of snapshot.replicas) {
          const h = await acts.inventory.describeHost(r.node_id);
          if (!isActionAllowed('manage_orchestrator', h.role)) throw hostRoleViolation('manage_orchestrator', h, `upgrading orchestrator replica ${r.node_id}`);
          requireDrillable(run, h);
          out.push(h);
        }
        return out;
      },
      { describe: (hs) => hs.map((h) => `${h.hostname} (${h.role})`).join(', ') },
    );
    const installed = await run.step(
      'read_replica_versions',
      async (ctx) => {
        const out: ReplicaInstall[] = [];
        for (const h of hosts) out.push(await acts.replicas.readReplicaVersion(onHost(ctx, h)));
        return out;
      },
      { describe: (vs) => vs.map((v) => `${v.node_id} ${v.version ?? 'unknown'}${v.active ? '' : ' (inactive)'}`).join(', ') },
    );
    return hosts.map((host, i) => ({ host, before: installed[i]! }));
  }

  private checkWindow(): Promise<string | null> {
    const { input } = this;
    return this.run.step('check_maintenance_window', async () => windowProblem(Date.now(), input.window_start, input.window_end), {
      describe: (p) => p ?? `inside ${input.window_start} – ${input.window_end}`,
    });
  }

  private readStream(): Promise<StreamState> {
    return this.run.step('read_stream_state', (ctx) => acts.orchestrator.readStreamState(ctx, this.cluster), {
      describe: (s) =>
        `XLEN ${s.stream_length} (last ${s.last_generated_id}), ${s.pending} pending, DLQ ${s.dlq_length}, group at ${s.group?.last_delivered_id ?? 'missing'}`,
    });
  }

  /**
   * The package step for `version` on one replica, then its /health ok on that version
   * with a leader elected. Returns why it failed (the runbook rolls back), or null.
   */
  private async upgradeReplica(r: Replica, version: string, step: 'install_version' | 'pin_previous_version'): Promise<string | null> {
    const { run, input } = this;
    try {
      await run.step(step, (ctx) => this.installs.installReplicaVersion(onHost(ctx, r.host), version, input.replica_timeout), {
        describe: (x) =>
          x.changed ? `${r.host.hostname}: ${x.previous_version} → ${x.version}, unit restarted` : `${r.host.hostname} already runs ${x.version}`,
      });
    } catch (err) {
      if (failureOf(err).type !== ErrorType.InstallFailed) throw err;
      return failureOf(err).message;
    }
    const serving = await run.step(
      'verify_replica',
      (ctx) => this.replicaWait.waitReplicaServing(onHost(ctx, r.host), this.cluster, r.host.node_id, version, input.replica_timeout, input.poll_interval),
      {
        describe: (s) =>
          s.serving
            ? `${r.host.hostname} /health ok on ${version}; leader ${s.leader?.node_id} (${s.leader?.version})`
            : `${r.host.hostname} not serving ${version} after ${s.waited_ms} ms: /health ${s.health ? `${s.health.status} ${s.health.version}` : 'no answer'}, leader ${s.leader?.node_id ?? 'none'}`,
      },
    );
    if (!serving.serving) {
      return `${r.host.hostname} did not serve ${version} within ${input.replica_timeout} ms (/health ${serving.health ? `${serving.health.status} ${serving.health.version}` : 'no answer'}; leader ${serving.leader?.node_id ?? 'none'})`;
    }
    return null;
  }

  /**
   * Pools back one at a time (POST /pools/{id}/start, then running with all its workers
   * before the next), then maintenance cleared. A pool that does not come back stops the
   * bring-up and leaves the orchestrator in drain for a person: new work should not land
   * on a fleet that cannot run it.
   */
  private async returnToService(pools: OrchestratorPool[]): Promise<{ ok: boolean; summary: string }> {
    const { run, input } = this;
    run.phase('return_to_service');
    for (const p of pools) {
      await run.step('start_pool', (ctx) => acts.orchestrator.startPool(ctx, this.cluster, p.pool_id), {
        describe: (r) => `POST /pools/${r.pool_id}/start: ${r.status}`,
      });
      const up = await run.step(
        'wait_pool_running',
        (ctx) => this.poolWait.waitPoolRunning(ctx, this.cluster, p.pool_id, p.workers, input.pool_timeout, input.poll_interval),
        {
          describe: (w) =>
            w.running
              ? `${p.pool_id} running with ${p.workers} worker(s) (${w.waited_ms} ms)`
              : `${p.pool_id} ${w.pool?.status ?? 'not listed'} with ${w.pool?.worker_pids.length ?? 0} of ${p.workers} worker(s)`,
        },
      );
      if (!up.running) {
        run.dropRollback('stop_pools');
        run.dropRollback('enter_maintenance');
        return {
          ok: false,
          summary: `${p.pool_id} did not come back within ${input.pool_timeout} ms; the orchestrator is left in drain for a person (POST /control/maintenance {"mode":"normal"} once the pools run)`,
        };
      }
    }
    run.dropRollback('stop_pools');
    await this.exitMaintenance();
    return { ok: true, summary: `pools back one at a time (${pools.map((p) => p.pool_id).join(', ') || 'none were running'}), maintenance cleared` };
  }

  private async exitMaintenance(): Promise<void> {
    await this.run.step('exit_maintenance', (ctx) => acts.orchestrator.setMaintenance(ctx, this.cluster, 'normal'), {
      describe: () => 'POST /control/maintenance {"mode":"normal"}',
    });
    this.run.dropRollback('enter_maintenance');
  }

  /**
   * Compensation of stop_pools (a failed or cancelled run): every pool that ran and is not
   * running now is started again, without waiting (a start restarts a running pool's workers).
   */
  private async restartPoolsQuietly(pools: OrchestratorPool[]): Promise<void> {
    const now = await acts.orchestrator.readPools(this.run.context('restart_pools'), this.cluster);
    for (const p of pools) {
      if (now.some((x) => x.pool_id === p.pool_id && x.status === 'running')) continue;
      await acts.orchestrator.startPool(this.run.context(`restart_pool_${p.pool_id}`), this.cluster, p.pool_id);
    }
  }

  /** What the verification found wrong; empty when all is well. `version` null: each replica on what it ran before. */
  private async verify(before: StreamState, version: string | null): Promise<string[]> {
    const { run, input } = this;
    const problems: string[] = [];
    const end = await this.readStream();
    const jobs: JobAccount = await run.step(
      'verify_jobs',
      (ctx) => this.ledger.accountJobs(ctx, this.cluster, windowStart(before), end.last_generated_id, input.verify_timeout, input.poll_interval),
      {
        describe: (a) =>
          `${a.jobs} job(s) from ${a.from} to ${a.up_to}: ${a.done_once} done once, ${a.counts.duplicated} duplicated, ${a.counts.unsettled} not done, ${a.counts.dead_lettered} dead-lettered`,
      },
    );
    if (jobs.counts.unsettled)
      problems.push(`${jobs.counts.unsettled} job(s) not processed (${jobs.unsettled.map((j) => `${j.job_id} ${j.status ?? 'no row'}`).join(', ')})`);
    if (jobs.counts.duplicated)
      problems.push(`${jobs.counts.duplicated} job(s) processed more than once (${jobs.duplicated.map((j) => `${j.job_id} ×${j.completions}`).join(', ')})`);
    if (jobs.counts.dead_lettered) problems.push(`${jobs.counts.dead_lettered} job(s) dead-lettered (${jobs.dead_lettered.join(', ')})`);

    const after = await run.step(
      'verify_stream',
      async (ctx) => {
        const s = await acts.orchestrator.readStreamState(ctx, this.cluster);
        const moved = before.group && s.group ? compareStreamIds(s.group.last_delivered_id, before.group.last_delivered_id) : 0;
        return { state: s, dlq_growth: s.dlq_length - before.dlq_length, group_moved_back: moved < 0 };
      },
      {
        describe: (v) =>
          `DLQ ${before.dlq_length} → ${v.state.dlq_length}; group ${before.group?.last_delivered_id ?? '?'} → ${v.state.group?.last_delivered_id ?? '?'}${v.group_moved_back ? ' (moved BACK)' : ''}; ${v.state.pending} pending`,
      },
    );
    if (after.dlq_growth !== 0) problems.push(`the dead-letter stream grew by ${after.dlq_growth} during the window`);
    if (after.group_moved_back)
      problems.push(
        `the consumer group's position moved back (${before.group?.last_delivered_id} → ${after.state.group?.last_delivered_id}): entries will be delivered again`,
      );

    const final = await run.step('verify_versions', (ctx) => acts.orchestrator.readOrchestrator(ctx, this.cluster), {
      describe: (s) =>
        `leader ${s.leader?.node_id ?? 'none'}; ${s.replicas.map((r) => `${r.node_id} ${r.health?.status ?? 'down'} ${r.health?.version ?? '?'}`).join(', ')}`,
    });
    for (const r of this.replicas) {
      const want = version ?? r.before.version;
      const h = final.replicas.find((x) => x.node_id === r.host.node_id)?.health;
      if (h?.status !== 'ok' || h.version !== want)
        problems.push(`${r.host.hostname} is ${h ? `${h.status} on ${h.version}` : 'not answering'}, expected ok on ${want}`);
    }
    if (!final.leader) problems.push('no replica leads');
    return problems;
  }

  /** What the procedure would do, from what the pre-checks read; the approver signs it. */
  private plan(order: Replica[], pools: OrchestratorPool[]): Plan {
    const { input } = this;
    const req = orchestratorRequests;
    const http = (step: string, r: ReturnType<typeof req.health>): PlannedAction => ({ kind: 'http', step, ...r });
    const installs = (step: string, version: (r: Replica) => string, rs: Replica[]): PlannedAction[] =>
      rs.flatMap((r) => [
        { kind: 'ssh' as const, step, host: r.host.hostname, host_role: r.host.role, argv: installOrchestratorCommand(version(r)), mutates: true },
        {
          kind: 'wait' as const,
          step: 'verify_replica',
          until: `${r.host.hostname} /health ok on ${version(r)}, a leader elected`,
          timeout_ms: input.replica_timeout,
          poll: { kind: 'http' as const, step: 'verify_replica', ...req.health() },
        },
      ]);
    const returnToService: PlannedAction[] = [
      ...pools.flatMap((p): PlannedAction[] => [
        http('start_pool', req.startPool(p.pool_id)),
        {
          kind: 'wait',
          step: 'wait_pool_running',
          until: `${p.pool_id} running with ${p.workers} worker(s)`,
          timeout_ms: input.pool_timeout,
          poll: { kind: 'http', step: 'wait_pool_running', ...req.listPools() },
        },
      ]),
      http('exit_maintenance', req.setMaintenance('normal')),
      {
        kind: 'check',
        step: 'verify_jobs',
        what: 'every stream entry from the oldest pending (or the group position) to the window end against orchestrator_jobs: done, completions = 1',
      },
      { kind: 'check', step: 'verify_stream', what: 'DLQ length unchanged, the group position not moved back' },
    ];
    return {
      runbook: RUNBOOK_ROLLING_UPGRADE,
      node_id: null,
      actions: [
        { kind: 'approval', step: 'approve_upgrade', question: `upgrade ${this.cluster} to ${input.target_version} node by node (fleet_change)` },
        http('enter_maintenance', req.setMaintenance('drain')),
        {
          kind: 'wait',
          step: 'wait_drained',
          until: 'XPENDING count 0 and no lease (GET /leases); on timeout an approver decides to wait longer or abort',
          timeout_ms: input.drain_timeout,
          poll: { kind: 'http', step: 'wait_drained', ...req.listLeases() },
        },
        http('stop_pools', req.stopAllPools()),
        {
          kind: 'wait',
          step: 'wait_pools_stopped',
          until: 'GET /pools lists no pool that is not stopped',
          timeout_ms: input.pool_timeout,
          poll: { kind: 'http', step: 'wait_pools_stopped', ...req.listPools() },
        },
        ...installs('install_version', () => input.target_version, order),
        {
          kind: 'branch',
          step: 'install_version',
          on: 'the package step and /health on every node',
          cases: [
            {
              when: `every replica serves ${input.target_version}`,
              actions: [...returnToService, { kind: 'end', outcome: 'upgraded', why: 'every replica on the new version, no job lost or duplicated' }],
            },
            {
              when: 'a node fails: the nodes touched so far, newest first',
              actions: [
                ...installs('pin_previous_version', (r) => r.before.version!, [...order].reverse()),
                ...returnToService,
                { kind: 'end', outcome: 'rolled_back', why: 'every replica back on its previous version' },
              ],
            },
          ],
        },
      ],
    };
  }
}
