import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HostDescription, InventoryActivities } from '../../capabilities/inventory/inventory-activities';
import type { EndSessionResult, LeaderLockActivities } from '../../capabilities/orchestrator/leader-lock-activities';
import type { LeaderStatusActivities, LeaderView } from '../../capabilities/orchestrator/leader-status-activities';
import { orchestratorRequests } from '../../capabilities/orchestrator/requests';
import { LEADER_LOCK_SQL, ORCHESTRATOR_UNIT, REPLICA_SQL, replicaCommands } from '../../capabilities/orchestrator/commands';
import type { ReplicaHostActivities } from '../../capabilities/orchestrator/replica-host-activities';
import { hostRoleViolation } from '../../domain/host-role-rules';
import { isActionAllowed, type HostRole } from '../../domain/host-roles';
import { describeFindings, judgeLock, type HolderProcess, type JournalFindings, type LockHolder } from '../../domain/leader-recovery';
import type { PlannedAction } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import type { StepContext } from '../../domain/step-context';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, requireDrillable } from '../../engine/target';
import { LeaderRecoveryInputSchema, RUNBOOK_LEADER_RECOVERY, leaderRecoveryRequestSignal, type LeaderRecoveryInput, type LeaderRecoveryRequest } from './input';

const acts = {
  status: proxyActivities<LeaderStatusActivities>(ActivityOptionSets.platformCall),
  hosts: proxyActivities<ReplicaHostActivities>(ActivityOptionSets.hostRead),
  lock: proxyActivities<LeaderLockActivities>(ActivityOptionSets.records),
  inventory: proxyActivities<InventoryActivities>(ActivityOptionSets.lookup),
};

/** A step context aimed at one replica host, with a key of its own (several hosts may be read in one step). */
const onReplica = (ctx: StepContext, nodeId: string): StepContext => ({ ...ctx, node_id: nodeId, idempotency_key: `${ctx.idempotency_key}/${nodeId}` });

/**
 * leader-recovery: a GPU orchestrator cluster whose leader is suspected dead (seed 004,
 * "Recover from Dead Leader" and "Leader stuck lock — forced recovery").
 *
 * pre-checks (reads): GET /status/leader and every replica's /health; the page's log
 * patterns in every replica's journal; a healthy leader ends the run. No leader: the
 * replicas get `election_grace` to elect on their own; a holder of the lock whose
 * process still runs (a partitioned leader) is escalated, untouched. → procedure: restart
 * gpu-orchestrator.service on another replica host and wait for a takeover → only if
 * the lock persists: who holds it (the database's word), the holder's process gone from
 * its host, its session idle `min_idle` → two approvers (lock_release) → end that session
 * (KILL / pg_terminate_backend; never RELEASE_LOCK from another session) → verify: a new
 * leader, and the pools it rehydrated match worker_pools.
 */
export async function leaderRecovery(request: LeaderRecoveryRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(LeaderRecoveryInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_LEADER_RECOVERY, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(leaderRecoveryRequestSignal, (req) => run.queueEvidence('request', 'alert', `recovery requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new LeaderRecoveryRun(run, input).recover());
}

class LeaderRecoveryRun {
  private replicaNodes: string[] = [];
  private roles = new Map<string, HostRole>();

  constructor(
    private readonly run: RunbookRun,
    private readonly input: LeaderRecoveryInput,
  ) {}

  async recover(): Promise<RunbookResult> {
    const { run, input } = this;

    // ---- pre-checks: read only ----
    run.phase('pre_checks');
    let view = await run.step('read_leader_status', (ctx) => acts.status.readLeaderStatus(ctx, input.cluster), { describe: describeView });
    this.replicaNodes = view.health.map((h) => h.node_id);
    await this.resolveReplicaHosts();
    const journals = await this.readJournals();
    if (view.leader) {
      const former = formerLeaders(view, input.lookback);
      if (former.length === 0) {
        return {
          outcome: 'leader_healthy',
          summary: `${view.leader.replica_id} on ${view.leader.node_id} leads, heartbeat ${view.leader.heartbeat_age_ms} ms old; nothing done (${journals})`,
        };
      }
      // The leader changed on its own (systemd restarted it, or a follower took the lock): confirm the pools.
      const gone = former.map((r) => `${r.replica_id} on ${r.node_id}`).join(', ');
      return this.verify('recovered_automatically', `${view.leader.replica_id} on ${view.leader.node_id} took over from ${gone}; nothing done by this run`);
    }
    const elected = await run.step(
      'wait_for_election',
      (ctx) => this.waits(input.election_grace).status.waitForLeader(ctx, input.cluster, input.election_grace, input.poll_interval),
      { describe: describeView },
    );
    if (elected.leader) {
      return this.verify(
        'recovered_automatically',
        `${elected.leader.replica_id} on ${elected.leader.node_id} was elected within the grace; nothing done by this run`,
      );
    }
    view = elected;
    // Confirmed: nobody leads. A lock whose holder still runs is a live lock, whatever else holds.
    const suspect = view.lock?.holder_replica ?? null;
    if (suspect) {
      const suspectProcess = await run.step('read_holder_process', (ctx) => acts.hosts.readReplicaProcess(onReplica(ctx, suspect.node_id), suspect.pid), {
        describe: describeProcess,
      });
      if (suspectProcess.running) {
        return {
          outcome: 'lock_held_by_live_leader',
          summary: `${suspect.replica_id} still runs (pid ${suspect.pid} on ${suspect.node_id}) and its session ${view.lock!.holder_session_id} holds ${view.lock!.name}, yet it does not lead: a partition or a hung process. Nothing was changed; a person heals the partition or fences the host (${journals})`,
        };
      }
    }
    const restartOn = this.pickRestartHost(view, suspect?.node_id);
    const stop = await planCheckpoint(run, this.plan(view, restartOn), undefined);
    if (stop) return stop;

    // ---- procedure: a graceful takeover first ----
    run.phase('procedure');
    const restarted = await run.step('restart_replica', (ctx) => acts.hosts.restartReplica({ ...ctx, node_id: restartOn }), {
      describe: (r) => `${ORCHESTRATOR_UNIT} on ${r.node_id} ${r.restarted ? 'restarted' : 'already restarted by an earlier attempt'}: ${r.unit}`,
    });
    const takeover = await run.step(
      'wait_for_takeover',
      (ctx) => this.waits(input.takeover_timeout).status.waitForLeader(ctx, input.cluster, input.takeover_timeout, input.poll_interval),
      { describe: describeView },
    );
    if (takeover.leader) {
      return this.verify(
        'recovered_by_restart',
        `${takeover.leader.replica_id} on ${takeover.leader.node_id} leads after ${ORCHESTRATOR_UNIT} was restarted on ${restarted.node_id}`,
      );
    }

    // ---- the lock persists: who holds it, and is its holder provably gone? ----
    const holder = await run.step('inspect_lock', (ctx) => acts.lock.inspectLeaderLock(ctx, input.cluster), { describe: describeHolder });
    if (holder.session_id === null) {
      return {
        outcome: 'escalated',
        summary: `${holder.lock_name} is free, yet no replica took it after the restart on ${restarted.node_id}: the replicas cannot elect (their journals: ${journals})`,
      };
    }
    const r = holder.replica;
    const process = r
      ? await run.step('prove_leader_stopped', (ctx) => acts.hosts.readReplicaProcess(onReplica(ctx, r.node_id), r.pid), { describe: describeProcess })
      : null;
    let proven: LockHolder & { used_meanwhile?: boolean } = holder;
    if (process && !process.running) {
      const minIdleS = Math.ceil(input.min_idle / 1000);
      // MySQL counts idle time in whole seconds: a second more than the minimum, and two polls.
      const waitMs = input.min_idle + 2 * input.poll_interval + 1000;
      proven = await run.step(
        'wait_for_idle_session',
        (ctx) => this.waits(waitMs).lock.waitForIdleHolder(ctx, input.cluster, holder.session_id!, minIdleS, waitMs, input.poll_interval),
        { describe: (h) => `${describeHolder(h)}${h.used_meanwhile ? '; it was used meanwhile' : ''}` },
      );
    }
    if (proven.session_id !== holder.session_id || !proven.session) {
      return this.awaitLeader('recovered_automatically', `session ${holder.session_id} let go of ${holder.lock_name} on its own while it was watched`);
    }
    if (proven.used_meanwhile) {
      return {
        outcome: 'escalated',
        summary: `not freeing ${holder.lock_name}: session ${holder.session_id} was used while it was watched, so something alive holds it; nothing was changed`,
      };
    }
    const verdict = judgeLock(proven, process, Math.ceil(input.min_idle / 1000));
    if (verdict.kind === 'live_holder') return { outcome: 'lock_held_by_live_leader', summary: `${verdict.why}; nothing was changed` };
    if (verdict.kind === 'unproven') return { outcome: 'escalated', summary: `not freeing ${holder.lock_name}: ${verdict.why}; nothing was changed` };
    if (verdict.kind === 'free') return this.awaitLeader('recovered_automatically', `${verdict.why} on its own`);

    // ---- two people look at the proof before the session is ended ----
    const backend = proven.backend;
    const statement = LEADER_LOCK_SQL[backend].endSession;
    const decision = await run.approval(
      'approve_lock_release',
      `End database session ${proven.session_id} (${statement} -- [${proven.session_id}]) so that ${proven.lock_name} is freed and a replica of ${input.cluster} can lead? Its holder ${r!.replica_id} is gone from ${r!.node_id}.`,
      {
        cluster: input.cluster,
        lock: proven.lock_name,
        backend,
        statement,
        params: [proven.session_id],
        why: verdict.why,
        holder: proven,
        process,
        journals,
        restarted: restarted.node_id,
      },
      input.approval_timeout,
      { kind: 'lock_release', disruption: `ends database session ${proven.session_id} on the orchestrator's database; nothing else is touched` },
    );
    if (decision.decision !== 'approve') {
      return {
        outcome: 'escalated',
        summary: `freeing ${proven.lock_name} was ${decision.decision === 'timeout' ? 'not decided in time' : `rejected by ${decision.actor}`}; session ${proven.session_id} still holds it`,
      };
    }
    const ended: EndSessionResult = await run.step(
      'end_lock_session',
      (ctx) =>
        acts.lock.endLockSession(ctx, input.cluster, {
          session_id: proven.session_id!,
          started_at: proven.session?.started_at ?? null,
          min_idle_s: Math.ceil(input.min_idle / 1000),
        }),
      { describe: (e) => `${e.result}: session ${proven.session_id}; holder now ${e.holder_after ?? 'none'}` },
    );
    if (ended.result === 'holder_changed' || ended.result === 'no_longer_idle') {
      return {
        outcome: 'escalated',
        summary: `session ${proven.session_id} was not ended: ${ended.result === 'holder_changed' ? `session ${ended.before.session_id ?? 'none'} holds the lock now` : 'it was used after the approval'}`,
      };
    }
    return this.awaitLeader(
      'recovered_lock_freed',
      `session ${proven.session_id} of ${r!.replica_id} ${ended.result === 'ended' ? 'ended' : 'was already gone'}`,
    );
  }

  /** After the lock was freed: a new leader within the takeover timeout, then the pools. */
  private async awaitLeader(outcome: string, what: string): Promise<RunbookResult> {
    const { run, input } = this;
    const next = await run.step(
      'wait_for_new_leader',
      (ctx) => this.waits(input.takeover_timeout).status.waitForLeader(ctx, input.cluster, input.takeover_timeout, input.poll_interval),
      { describe: describeView },
    );
    if (!next.leader) return { outcome: 'escalated', summary: `${what}, but no replica leads ${input.takeover_timeout} ms later` };
    return this.verify(outcome, `${what}; ${next.leader.replica_id} on ${next.leader.node_id} leads`);
  }

  /** Verify: every running worker_pools row is served by the new leader with all its workers (the page's rehydration). */
  private async verify(outcome: string, summary: string): Promise<RunbookResult> {
    const { run, input } = this;
    run.phase('verify');
    const pools = await run.step(
      'verify_pools_rehydrated',
      (ctx) => this.waits(input.takeover_timeout).status.waitForPoolsRehydrated(ctx, input.cluster, input.takeover_timeout, input.poll_interval),
      { describe: (p) => (p.rehydrated ? `${p.rows.length} running pool(s) in worker_pools, all served` : `not served: ${p.missing.join(', ')}`) },
    );
    if (!pools.rehydrated)
      return { outcome: 'escalated', summary: `${summary}, but GET /pools does not serve ${pools.missing.join(', ')} as worker_pools says` };
    return { outcome, summary: `${summary}; ${pools.rows.length} pool(s) rehydrated` };
  }

  /**
   * The replica hosts are inventoried control hosts where the orchestrator may be
   * managed: checked before any SSH (the activities refuse again), and their roles
   * named in the plan.
   */
  private async resolveReplicaHosts(): Promise<void> {
    const hosts: HostDescription[] = await this.run.step(
      'resolve_replica_hosts',
      () => Promise.all(this.replicaNodes.map((n) => acts.inventory.describeHost(n))),
      {
        describe: (hs) => hs.map((h) => `${h.hostname} (${h.role})`).join(', '),
      },
    );
    const wrong = hosts.find((h) => !isActionAllowed('manage_orchestrator', h.role));
    if (wrong) throw hostRoleViolation('manage_orchestrator', wrong, `recovering the leader of ${this.input.cluster} (a replica)`);
    // A drill restarts replicas and ends sessions for real: every replica host must be drillable.
    for (const h of hosts) requireDrillable(this.run, h);
    for (const h of hosts) this.roles.set(h.node_id, h.role);
  }

  /** Every replica's journal since the lookback, in one step; a summary line for the report. */
  private async readJournals(): Promise<string> {
    const { run, input } = this;
    const sinceS = Math.floor((Date.now() - input.lookback) / 1000);
    const found: JournalFindings[] = await run.step(
      'read_replica_journals',
      (ctx) => Promise.all(this.replicaNodes.map((n) => acts.hosts.readReplicaJournal(onReplica(ctx, n), sinceS))),
      { describe: (fs) => fs.map(describeFindings).join('; ') },
    );
    return found.map(describeFindings).join('; ');
  }

  /** A replica host other than the dead leader's, preferring one whose process answers /health. */
  private pickRestartHost(view: LeaderView, deadNode: string | undefined): string {
    const others = view.health.filter((h) => h.node_id !== deadNode);
    return (others.find((h) => h.health !== null) ?? others[0] ?? view.health[0]!).node_id;
  }

  private roleOf(nodeId: string): HostRole {
    return this.roles.get(nodeId) ?? 'platform_control';
  }

  /** Activities that wait up to `waitMs`, heartbeating every poll. */
  private waits(waitMs: number) {
    const opts = ActivityOptionSets.boundedWait(waitMs, this.input.poll_interval);
    return { status: proxyActivities<LeaderStatusActivities>(opts), lock: proxyActivities<LeaderLockActivities>(opts) };
  }

  private plan(view: LeaderView, restartOn: string) {
    const { input } = this;
    const backend = view.lock?.backend === 'mysql' ? 'mysql' : 'postgres';
    const sql = LEADER_LOCK_SQL[backend];
    const session = view.lock?.holder_session_id ?? null;
    const holder = view.lock?.holder_replica ?? null;
    const waitLeader = (step: string, timeout: number): PlannedAction => ({
      kind: 'wait',
      step,
      until: 'a replica leads',
      timeout_ms: timeout,
      poll: { kind: 'http', step, ...orchestratorRequests.leaderStatus() },
    });
    const verify: PlannedAction = {
      kind: 'wait',
      step: 'verify_pools_rehydrated',
      until: 'every running worker_pools row is served by GET /pools with all its workers',
      timeout_ms: input.takeover_timeout,
      poll: { kind: 'http', step: 'verify_pools_rehydrated', ...orchestratorRequests.listPools() },
    };
    const freeLock: PlannedAction[] = [
      {
        kind: 'sql',
        step: 'inspect_lock',
        statement: sql.holder,
        params: backend === 'mysql' ? [view.lock_name] : [`classid, objid of the advisory key of ${view.lock_name}`],
        mutates: false,
      },
      { kind: 'sql', step: 'inspect_lock', statement: sql.session, params: [session], mutates: false },
      { kind: 'sql', step: 'inspect_lock', statement: REPLICA_SQL.bySession, params: [session], mutates: false },
      ...(holder
        ? [
            {
              kind: 'ssh' as const,
              step: 'prove_leader_stopped',
              host: holder.node_id,
              host_role: this.roleOf(holder.node_id),
              argv: replicaCommands.process(holder.pid),
              mutates: false,
            },
          ]
        : []),
      { kind: 'check', step: 'wait_for_idle_session', what: `session ${session ?? '?'} idle at least ${input.min_idle} ms` },
      { kind: 'approval', step: 'approve_lock_release', question: `end session ${session ?? '?'} to free ${view.lock_name} (lock_release: two approvers)` },
      { kind: 'sql', step: 'end_lock_session', statement: sql.endSession, params: [session], mutates: true },
      waitLeader('wait_for_new_leader', input.takeover_timeout),
      verify,
      { kind: 'end', outcome: 'recovered_lock_freed', why: 'the stale session ended and a replica took the lock' },
    ];
    return {
      runbook: RUNBOOK_LEADER_RECOVERY,
      node_id: null,
      actions: [
        {
          kind: 'ssh' as const,
          step: 'restart_replica',
          host: restartOn,
          host_role: this.roleOf(restartOn),
          argv: replicaCommands.restart(),
          mutates: true,
        },
        waitLeader('wait_for_takeover', input.takeover_timeout),
        {
          kind: 'branch' as const,
          step: 'wait_for_takeover',
          on: 'whether a replica leads after the restart',
          cases: [
            { when: `the lock persists (session ${session ?? '?'})`, actions: freeLock },
            {
              when: 'a replica leads',
              actions: [verify, { kind: 'end' as const, outcome: 'recovered_by_restart', why: 'the restarted replica or another one took the lock' }],
            },
            {
              when: 'the holder still runs or is not proven gone',
              actions: [{ kind: 'end' as const, outcome: 'escalated', why: 'a live lock is never freed' }],
            },
          ],
        },
      ],
    };
  }
}

/** Replicas that reported themselves leader within the lookback and lead no more: leaders that died or stepped down. */
function formerLeaders(view: LeaderView, lookbackMs: number): LeaderView['replicas'] {
  return view.replicas.filter((r) => r.is_leader && r.replica_id !== view.leader?.replica_id && r.heartbeat_age_ms <= lookbackMs);
}

function describeView(v: LeaderView): string {
  if (!v.answered) return 'no replica answered GET /status/leader';
  const down = v.health.filter((h) => !h.health || h.health.status !== 'ok').map((h) => h.node_id);
  const lock = v.lock?.holder_session_id ? `${v.lock.name} held by session ${v.lock.holder_session_id}` : `${v.lock?.name ?? 'lock'} free`;
  const leader = v.leader ? `${v.leader.replica_id} leads (heartbeat ${v.leader.heartbeat_age_ms} ms)` : 'nobody leads';
  return `${leader}; ${lock}${down.length ? `; not healthy: ${down.join(', ')}` : ''}`;
}

function describeProcess(p: HolderProcess): string {
  return p.running ? `pid ${p.pid} runs on ${p.node_id}: ${p.ps.trim()}` : `no process under pid ${p.pid} on ${p.node_id}; unit ${p.unit}`;
}

function describeHolder(h: LockHolder): string {
  if (h.session_id === null) return `${h.lock_name} is free`;
  const s = h.session ? `${h.session.state ?? '?'} for ${h.session.idle_s ?? '?'} s, from ${h.session.client ?? '?'}` : 'gone';
  const r = h.replica ? `${h.replica.replica_id} (pid ${h.replica.pid} on ${h.replica.node_id})` : 'no replica reported it';
  return `session ${h.session_id} holds ${h.lock_name}: ${s}; ${r}`;
}
