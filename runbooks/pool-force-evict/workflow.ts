import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HostDescription } from '../../capabilities/inventory/inventory-activities';
import { gpuProcessesCommand, processesCommand, signalCommand } from '../../capabilities/orchestrator/commands';
import type { OrchestratorPool } from '../../capabilities/orchestrator/orchestrator-api';
import type { OrchestratorActivities, OrchestratorSnapshot } from '../../capabilities/orchestrator/orchestrator-activities';
import type { PoolProcessActivities, PoolWorkerProcess } from '../../capabilities/orchestrator/pool-process-activities';
import type { PromSample } from '../../capabilities/orchestrator/prometheus-text';
import { orchestratorRequests } from '../../capabilities/orchestrator/requests';
import type { Plan, PlannedAction } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import type { StepContext } from '../../domain/step-context';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { onHost } from '../app-control-host';
import { PoolEvictInputSchema, poolEvictRequestSignal, RUNBOOK_POOL_FORCE_EVICT, type PoolEvictInput, type PoolEvictRequest } from './input';

const acts = {
  orch: proxyActivities<OrchestratorActivities>(ActivityOptionSets.platformCall),
  procs: proxyActivities<PoolProcessActivities>(ActivityOptionSets.hostRead),
};

const NVML_PCT = 'gpu_orchestrator_nvml_mem_util_pct';
const POOL_MEMORY = 'gpu_orchestrator_worker_pool_memory_bytes';

/** How one pool ended up stopped. */
type StoppedBy = 'api' | 'sigterm' | 'sigkill';

/** One pool the emergency entry evicted, and why it was that one. */
interface Eviction {
  pool_id: string;
  node_id: string;
  gpu_mib: number;
  by: StoppedBy;
  why: string;
}

/**
 * pool-force-evict: a runaway or unresponsive worker pool stopped for good (seed
 * 004, "Force-Evict Worker Pools" and "Evict a runaway worker pool").
 *
 * pre-checks: the orchestrator and the pool as its API lists them, the pool's host
 * (worker_compute), its worker PIDs checked on the host to run this pool's worker →
 * procedure: graceful stop through the leader's API → grace period → SIGTERM to the
 * workers still running → wait → SIGKILL, after an approval unless it is an OOM
 * emergency; every PID is checked again (start time, argv) right before each signal,
 * so a PID reused by another process is never signalled → verify: the API no longer
 * lists the pool and holds none of its leases, and the host's GPU memory holds none
 * of its processes.
 *
 * The emergency-OOM entry (`emergency_oom`) finds GPUs above the threshold from the
 * orchestrator's NVML metric, attributes their memory to pools with nvidia-smi's
 * compute apps on the host, and evicts the largest pool first until every GPU is
 * under the threshold, reporting each pool it evicted and why.
 */
export async function poolForceEvict(request: PoolEvictRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(PoolEvictInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_POOL_FORCE_EVICT, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(poolEvictRequestSignal, (req) => run.queueEvidence('request', 'alert', `eviction requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new PoolEvictRun(run, input).start());
}

class PoolEvictRun {
  private readonly waits: PoolProcessActivities & OrchestratorActivities;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: PoolEvictInput,
  ) {
    const longest = Math.max(input.grace_period, input.term_wait, input.kill_wait, input.lease_wait);
    this.waits = proxyActivities<PoolProcessActivities & OrchestratorActivities>(ActivityOptionSets.boundedWait(longest, input.poll_interval));
  }

  async start(): Promise<RunbookResult> {
    this.run.phase('pre_checks');
    const snapshot = await this.run.step('read_orchestrator', (ctx) => acts.orch.readOrchestrator(ctx, this.input.cluster), {
      describe: (s) => `${s.cluster}: leader ${s.leader ? `${s.leader.replica_id} on ${s.leader.node_id}` : 'none'}, ${s.pools.length} pool(s) listed`,
    });
    return this.input.pool_id !== undefined ? this.evictNamed(snapshot, this.input.pool_id) : this.emergencyOom(snapshot);
  }

  // ---- the named pool ----

  private async evictNamed(snapshot: OrchestratorSnapshot, poolId: string): Promise<RunbookResult> {
    const { run } = this;
    const pool = snapshot.pools.find((p) => p.pool_id === poolId);
    if (!pool) return { outcome: 'already_stopped', summary: `${snapshot.cluster} lists no running pool ${poolId} (GET /pools): nothing to evict` };
    const { host, workers } = await this.poolProcesses(pool);

    const stop = await planCheckpoint(run, this.plan([this.evictionActions(pool, host, workers, false)]), undefined);
    if (stop) return stop;

    run.phase('procedure');
    const stopped = await this.evict(pool, host, workers, snapshot.leader !== null, false);
    if (typeof stopped !== 'string') return stopped;
    run.phase('verify');
    const unverified = (await this.verify(pool, host, workers)) ?? (await this.checkOtherPools(snapshot.pools, [poolId]));
    if (unverified) return unverified;
    return {
      outcome: 'evicted',
      summary: `${poolId} on ${host.hostname} evicted (${describeStop(stopped)}, ${workers.length} worker(s)); its leases are released`,
    };
  }

  // ---- the emergency-OOM entry ----

  private async emergencyOom(snapshot: OrchestratorSnapshot): Promise<RunbookResult> {
    const { run, input } = this;
    const oom = input.emergency_oom!;
    const evicted: Eviction[] = [];
    let pools = snapshot.pools;
    for (let round = 0; ; round++) {
      const metrics = await run.step('read_gpu_memory_metrics', (ctx) => acts.orch.readMetrics(ctx, input.cluster, [NVML_PCT, POOL_MEMORY]), {
        describe: (m) => `${hottest(m, oom.node_id)?.labels.node_id ?? 'no GPU'} at ${hottest(m, oom.node_id)?.value ?? 0}%`,
      });
      const hot = hottest(metrics, oom.node_id);
      if (!hot || hot.value <= oom.threshold_pct) {
        if (evicted.length === 0) return { outcome: 'below_threshold', summary: `every GPU is at or under ${oom.threshold_pct}% (NVML): nothing evicted` };
        const collateral = await this.checkOtherPools(
          snapshot.pools,
          evicted.map((e) => e.pool_id),
        );
        if (collateral) return collateral;
        return { outcome: 'memory_relieved', summary: `every GPU is under ${oom.threshold_pct}% after evicting ${describeEvictions(evicted)}` };
      }
      if (round >= oom.max_pools) {
        return {
          outcome: 'escalated',
          summary: `${hot.labels.node_id} GPU ${hot.labels.gpu} is still at ${hot.value}% after evicting ${describeEvictions(evicted)} (max_pools ${oom.max_pools}): a person decides what goes next`,
        };
      }
      if (round > 0) pools = await run.step('read_pools', (ctx) => acts.orch.readPools(ctx, input.cluster), { describe: (p) => `${p.length} pool(s)` });
      const nodeId = hot.labels.node_id!;
      const host = await resolveTarget(run, nodeId, 'read_gpu_state', 'the GPU memory check');
      const memory = await run.step('read_gpu_processes', (ctx) => acts.procs.readHostGpuMemory(onHost(ctx, host)), {
        describe: (m) => m.gpus.map((g) => `GPU ${g.index} ${g.used_pct ?? '?'}%`).join(', '),
      });
      const hotGpus = memory.gpus.filter((g) => (g.used_pct ?? 0) > oom.threshold_pct).map((g) => g.index);
      // Each pool's share of the hot GPUs' memory, from NVML's per-process list.
      const ranked = pools
        .filter((p) => p.node_id === nodeId && p.worker_pids.length > 0)
        .map((p) => ({
          pool: p,
          gpuMiB: memory.processes
            .filter((x) => p.worker_pids.includes(x.pid) && hotGpus.includes(x.gpu_index ?? -1))
            .reduce((s, x) => s + (x.used_mib ?? 0), 0),
          rssBytes: metrics.find((m) => m.name === POOL_MEMORY && m.labels.pool_id === p.pool_id)?.value ?? 0,
        }))
        .filter((c) => c.gpuMiB > 0)
        .sort((a, b) => b.gpuMiB - a.gpuMiB || b.rssBytes - a.rssBytes || a.pool.pool_id.localeCompare(b.pool.pool_id));
      const largest = ranked[0];
      if (!largest) {
        const outside = memory.processes.filter((x) => hotGpus.includes(x.gpu_index ?? -1)).map((x) => `${x.pid} (${x.used_mib ?? '?'} MiB)`);
        return {
          outcome: 'escalated',
          summary: `${host.hostname} GPU ${hotGpus.join(', ')} above ${oom.threshold_pct}% is held by no orchestrator pool${outside.length ? `: PIDs ${outside.join(', ')}` : ''}${evicted.length ? `; evicted ${describeEvictions(evicted)}` : ''}`,
        };
      }
      const why = `GPU ${hotGpus.join(', ')} on ${host.hostname} at ${hot.value}% > ${oom.threshold_pct}%; ${largest.pool.pool_id} held the most of it (${largest.gpuMiB} MiB)`;
      run.queueEvidence('oom_choice', 'decision', why, { ranked: ranked.map((c) => ({ pool_id: c.pool.pool_id, gpu_mib: c.gpuMiB, rss_bytes: c.rssBytes })) });
      const { workers } = await this.poolProcesses(largest.pool, host);
      if (round === 0) {
        const stop = await planCheckpoint(run, this.plan([this.evictionActions(largest.pool, host, workers, true)], true), undefined);
        if (stop) return stop;
      }
      run.phase('procedure');
      const stopped = await this.evict(largest.pool, host, workers, snapshot.leader !== null, true);
      if (typeof stopped !== 'string') return stopped;
      const unverified = await this.verify(largest.pool, host, workers);
      if (unverified) return unverified;
      evicted.push({ pool_id: largest.pool.pool_id, node_id: nodeId, gpu_mib: largest.gpuMiB, by: stopped, why });
    }
  }

  // ---- shared steps ----

  /** The pool's host (a GPU worker) and those of the PIDs the API names that run this pool's worker now. */
  private async poolProcesses(pool: OrchestratorPool, known?: HostDescription) {
    const { run } = this;
    const host = known ?? (await resolveTarget(run, pool.node_id, 'signal_pool_workers', 'evicting a worker pool'));
    const seen = await run.step('read_pool_processes', (ctx) => acts.procs.readPoolProcesses(onHost(ctx, host), pool.pool_id, pool.worker_pids), {
      describe: (p) =>
        `${p.workers.length} worker(s) of ${pool.pool_id}${p.foreign.length ? `; PID ${p.foreign.map((f) => f.pid).join(', ')} now run(s) something else` : ''}${p.gone.length ? `; ${p.gone.length} gone` : ''}`,
    });
    return { host, workers: seen.workers };
  }

  /**
   * Stops the pool: API, then SIGTERM, then (approved, or an OOM emergency) SIGKILL.
   * Returns how it stopped, or the run's end when it could not.
   */
  private async evict(
    pool: OrchestratorPool,
    host: HostDescription,
    workers: PoolWorkerProcess[],
    hasLeader: boolean,
    emergency: boolean,
  ): Promise<StoppedBy | RunbookResult> {
    const { run, input } = this;
    const onPoolHost = (ctx: StepContext) => onHost(ctx, host);
    const waitGone = (step: string, left: PoolWorkerProcess[], timeoutMs: number) =>
      run.step(step, (ctx) => this.waits.waitPoolWorkersGone(onPoolHost(ctx), pool.pool_id, left, timeoutMs, input.poll_interval), {
        describe: (g) =>
          `${g.gone ? `all gone after ${g.waited_ms} ms` : `PID ${g.remaining.join(', ')} still running after ${g.waited_ms} ms`}${g.reused.length ? `; PID reused, never to be signalled: ${g.reused.map((x) => `${x.pid} ${x.now}`).join('; ')}` : ''}`,
      });
    const signal = (step: string, left: PoolWorkerProcess[], sig: 'TERM' | 'KILL') =>
      run.step(step, (ctx) => acts.procs.signalPoolWorkers(onPoolHost(ctx), pool.pool_id, left, sig), {
        describe: (r) =>
          `SIG${sig} to ${r.signalled.join(', ') || 'none'}${r.gone.length ? `; ${r.gone.join(', ')} already gone` : ''}${r.reused.length ? `; not signalled (PID reused): ${r.reused.map((x) => `${x.pid} ${x.now}`).join('; ')}` : ''}`,
      });
    const still = (remaining: number[]) => workers.filter((w) => remaining.includes(w.pid));

    // The leader's API first (the page's POST /pools/{id}/stop); without a leader, straight to signals.
    if (hasLeader) {
      await run.step('request_graceful_stop', (ctx) => acts.orch.stopPool(ctx, input.cluster, pool.pool_id), { describe: (r) => `${r.pool_id} ${r.status}` });
    }
    let left = still((await waitGone('wait_for_graceful_stop', workers, input.grace_period)).remaining);
    if (left.length === 0) return 'api';

    await signal('signal_term', left, 'TERM');
    left = still((await waitGone('wait_after_term', left, input.term_wait)).remaining);
    if (left.length === 0) return 'sigterm';

    if (!emergency) {
      const approval = await run.approval(
        'approve_sigkill',
        `${pool.pool_id} on ${host.hostname} ignored the graceful stop and SIGTERM: SIGKILL worker PID ${left.map((w) => w.pid).join(', ')}?`,
        { pool_id: pool.pool_id, node_id: host.node_id, reason: input.reason, workers: left, memory_mib: pool.memory_mib },
        input.approval_timeout,
        { kind: 'force_evict', disruption: `jobs in hand on ${pool.pool_id} end at once; the leader hands them out again` },
      );
      if (approval.decision !== 'approve') {
        return {
          outcome: 'kill_declined',
          summary: `SIGKILL ${approval.decision === 'timeout' ? 'not approved in time' : `declined by ${approval.actor ?? 'an approver'}`}; ${pool.pool_id} still runs PID ${left.map((w) => w.pid).join(', ')}`,
        };
      }
    }
    await signal('signal_kill', left, 'KILL');
    left = still((await waitGone('wait_after_kill', left, input.kill_wait)).remaining);
    if (left.length > 0) {
      return {
        outcome: 'escalated',
        summary: `PID ${left.map((w) => w.pid).join(', ')} of ${pool.pool_id} survived SIGKILL on ${host.hostname} (uninterruptible I/O or a hung driver call): the host needs a person`,
      };
    }
    return 'sigkill';
  }

  /** The API lists neither the pool nor its leases, and no process of it holds GPU memory. */
  private async verify(pool: OrchestratorPool, host: HostDescription, workers: PoolWorkerProcess[]): Promise<RunbookResult | undefined> {
    const { run, input } = this;
    const released = await run.step(
      'confirm_pool_released',
      (ctx) => this.waits.waitPoolReleased(ctx, input.cluster, pool.pool_id, input.lease_wait, input.poll_interval),
      {
        describe: (r) =>
          r.released ? `not listed, no lease (${r.waited_ms} ms)` : `${r.pool_listed ? 'still listed' : 'not listed'}, ${r.leases.length} lease(s)`,
      },
    );
    const memory = await run.step('check_host_memory', (ctx) => acts.procs.readHostGpuMemory(onHost(ctx, host)), {
      describe: (m) => m.gpus.map((g) => `GPU ${g.index} ${g.used_pct ?? '?'}%`).join(', '),
    });
    if (!released.released) {
      return {
        outcome: 'escalated',
        summary: `${pool.pool_id}'s workers are gone but ${released.pool_listed ? 'the API still lists it' : `${released.leases.length} lease(s) remain (${released.leases.map((l) => l.job_id).join(', ')})`} after ${input.lease_wait} ms: is a leader reaping? (leader-recovery)`,
      };
    }
    const holding = memory.processes.filter((p) => workers.some((w) => w.pid === p.pid));
    if (holding.length) {
      return {
        outcome: 'escalated',
        summary: `GPU memory on ${host.hostname} is still held by PID ${holding.map((p) => p.pid).join(', ')} of ${pool.pool_id}`,
      };
    }
    return undefined;
  }

  /** Every other pool that ran before the run still runs: the eviction took nothing else with it. */
  private async checkOtherPools(before: OrchestratorPool[], evicted: string[]): Promise<RunbookResult | undefined> {
    const { run, input } = this;
    const others = before.filter((p) => !evicted.includes(p.pool_id)).map((p) => p.pool_id);
    const now = await run.step('check_other_pools', (ctx) => acts.orch.readPools(ctx, input.cluster), {
      describe: (pools) => `${others.filter((id) => pools.some((p) => p.pool_id === id)).length} of ${others.length} other pool(s) still running`,
    });
    const lost = others.filter((id) => !now.some((p) => p.pool_id === id && p.worker_pids.length > 0));
    if (lost.length === 0) return undefined;
    return {
      outcome: 'escalated',
      summary: `evicted ${evicted.join(', ')}, but ${lost.join(', ')} no longer run(s) either: look at the host and the leader's log`,
    };
  }

  // ---- plan ----

  private plan(evictions: PlannedAction[][], emergency = false): Plan {
    const { input } = this;
    return {
      runbook: RUNBOOK_POOL_FORCE_EVICT,
      node_id: null,
      actions: [
        ...evictions.flat(),
        { kind: 'check' as const, step: 'check_other_pools', what: 'every other pool GET /pools listed before still runs' },
        ...(emergency
          ? [
              {
                kind: 'check' as const,
                step: 'read_gpu_memory_metrics',
                what: `NVML memory again; the next largest pool while a GPU stays above ${input.emergency_oom!.threshold_pct}%`,
              },
            ]
          : []),
        { kind: 'end' as const, outcome: emergency ? 'memory_relieved' : 'evicted', why: 'the pool is gone and its leases released' },
      ],
    };
  }

  private evictionActions(pool: OrchestratorPool, host: HostDescription, workers: PoolWorkerProcess[], emergency: boolean): PlannedAction[] {
    const { input } = this;
    const pids = workers.map((w) => w.pid);
    const ssh = (step: string, argv: string[], mutates: boolean) => ({ kind: 'ssh' as const, step, host: host.hostname, host_role: host.role, argv, mutates });
    const poll = ssh('read_pool_processes', processesCommand(pids), false);
    const wait = (step: string, timeout: number) => ({ kind: 'wait' as const, step, until: `no worker of ${pool.pool_id} runs`, timeout_ms: timeout, poll });
    return [
      { kind: 'http', step: 'request_graceful_stop', ...orchestratorRequests.stopPool(pool.pool_id) },
      wait('wait_for_graceful_stop', input.grace_period),
      {
        kind: 'branch',
        step: 'escalate_signals',
        on: `workers of ${pool.pool_id} still running after the grace period`,
        cases: [
          { when: 'every worker has exited', actions: [] },
          {
            when: 'some still run (each PID checked again: start time and argv)',
            actions: [
              ssh('signal_term', signalCommand('TERM', pids), true),
              wait('wait_after_term', input.term_wait),
              ...(emergency ? [] : [{ kind: 'approval' as const, step: 'approve_sigkill', question: `SIGKILL the workers of ${pool.pool_id} still running?` }]),
              ssh('signal_kill', signalCommand('KILL', pids), true),
              wait('wait_after_kill', input.kill_wait),
            ],
          },
        ],
      },
      {
        kind: 'wait',
        step: 'confirm_pool_released',
        until: `GET /pools does not list ${pool.pool_id} and it holds no lease`,
        timeout_ms: input.lease_wait,
        poll: { kind: 'http', step: 'confirm_pool_released', ...orchestratorRequests.listLeases(pool.pool_id) },
      },
      ssh('check_host_memory', gpuProcessesCommand(), false),
    ];
  }
}

/** The GPU with the most memory in use by NVML's metric (on `nodeId` when given). */
function hottest(metrics: PromSample[], nodeId: string | undefined): PromSample | undefined {
  return metrics
    .filter((m) => m.name === NVML_PCT && (nodeId === undefined || m.labels.node_id === nodeId))
    .sort((a, b) => b.value - a.value || (a.labels.node_id ?? '').localeCompare(b.labels.node_id ?? ''))[0];
}

function describeStop(by: StoppedBy): string {
  return { api: 'graceful stop through the API', sigterm: 'SIGTERM after the grace period', sigkill: 'SIGKILL after SIGTERM' }[by];
}

function describeEvictions(evicted: Eviction[]): string {
  return evicted.length ? evicted.map((e) => `${e.pool_id} (${e.gpu_mib} MiB GPU, ${describeStop(e.by)}: ${e.why})`).join('; ') : 'nothing';
}
