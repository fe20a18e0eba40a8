import { isCancellation, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import { driverVersionCommand, installDriverCommand, installedDriverCommand, diagCommand } from '../../capabilities/gpu/commands';
import type { DriverActivities, DriverState } from '../../capabilities/gpu/driver-activities';
import type { GpuActivities } from '../../capabilities/gpu/gpu-activities';
import type { HostDescription } from '../../capabilities/inventory/inventory-activities';
import type { PlatformActivities } from '../../capabilities/platform/platform-activities';
import { platformRequests } from '../../capabilities/platform/requests';
import { ErrorType } from '../../domain/errors';
import { diagBudgetMs } from '../../domain/host-command-budgets';
import type { Plan } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import { ActivityOptionSets } from '../../engine/activity-options';
import { DisruptionLease } from '../../engine/disruption-lease';
import { failureOf } from '../../engine/failures';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { gpuDriverUpgradeRunbook } from './definition';
import { assessDiagCoverage } from '../gpu-fault-remediation/policies/diag-coverage';
import {
  CORDON_PREFIX,
  driverUpgradeRequestSignal,
  GpuDriverUpgradeInputSchema,
  RUNBOOK_GPU_DRIVER_UPGRADE,
  type GpuDriverUpgradeInput,
  type GpuDriverUpgradeRequest,
} from './input';

/** The driver version an apt pin installs (`...=550.90.07-0ubuntu1` → 550.90.07). */
const versionOfPin = (pin: string) => /=(\d+\.\d+(?:\.\d+)?)/.exec(pin)?.[1] ?? pin;

/**
 * gpu-driver-upgrade: one worker moved to a pinned NVIDIA driver (seed 003, "Rolling
 * driver / CUDA upgrade": node by node behind cordon and drain, verified by a real
 * proof, with a one-step rollback to the previous pin).
 *
 * pre-checks: the node is worker_compute, in service and not held by anyone, its
 * driver state is clean (no install waiting for a reboot), not already on the target →
 * the node's disruption slots → cordon → drain (force only with an approval) →
 * `apt-get install <pin>` as a host job → reboot → nvidia-smi reports the target →
 * dcgmi diag passes on every GPU → uncordon. A failed install, a wrong version after
 * the reboot or a failing diag puts the previous pin back the same way and returns
 * the node on its old driver; if that fails too, the node stays cordoned for a person.
 * A fleet is rolled as a fleet run of this runbook: each node takes one slot, so the
 * budget's cap is the rollout's maxUnavailable.
 */
export async function gpuDriverUpgrade(request: GpuDriverUpgradeRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(GpuDriverUpgradeInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_GPU_DRIVER_UPGRADE, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });
  setHandler(driverUpgradeRequestSignal, (req) => run.queueEvidence('request', 'alert', `upgrade requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new DriverUpgradeRun(run, input).upgrade());
}

class DriverUpgradeRun {
  private readonly acts;
  private lease: DisruptionLease | undefined;
  private host!: HostDescription;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: GpuDriverUpgradeInput,
  ) {
    const poll = input.poll_interval;
    this.acts = {
      read: proxyActivities<DriverActivities & GpuActivities>(ActivityOptionSets.hostRead),
      install: proxyActivities<DriverActivities>(ActivityOptionSets.budgetedJob(30 * 60_000, poll)),
      platform: proxyActivities<PlatformActivities>(ActivityOptionSets.platformCall),
      drain: proxyActivities<PlatformActivities>(ActivityOptionSets.boundedWait(input.drain_timeout, poll)),
      reboot: proxyActivities<GpuActivities>(ActivityOptionSets.boundedWait(input.reboot_timeout, poll)),
      diag: proxyActivities<GpuActivities>(ActivityOptionSets.budgetedJob(diagBudgetMs(input.diag_level), poll)),
    };
  }

  async upgrade(): Promise<RunbookResult> {
    const { run, input, acts } = this;
    const target = input.driver_version;

    // ---- pre-checks: read only ----
    run.phase('pre_checks');
    this.host = await resolveTarget(run, input.node_id, gpuDriverUpgradeRunbook.targetAction, 'a GPU driver upgrade');
    const node = await run.step('read_node_state', (ctx) => acts.platform.readNodeState(ctx), {
      describe: (n) => (n.schedulable ? 'in service' : `cordoned: ${n.cordon_reason ?? 'no reason given'}`),
    });
    if (!node.schedulable || node.open_rma_tickets.length > 0) {
      const why = node.open_rma_tickets.length
        ? `RMA ticket ${node.open_rma_tickets.join(', ')} is open`
        : `cordoned by someone else (${node.cordon_reason ?? 'no reason'})`;
      return { outcome: 'refused', summary: `${this.host.hostname} is ${why}: not touched` };
    }
    const driver = await this.readDriver('read_driver');
    if (driver.mismatch || !driver.installed_pin || !driver.loaded) {
      return {
        outcome: 'refused',
        summary: `${this.host.hostname}'s driver state is not clean (${driver.mismatch ? 'an install is waiting for a reboot' : `loaded ${driver.loaded ?? '?'}, package ${driver.installed_pin ?? 'none'}`}): a person looks first`,
      };
    }
    if (driver.loaded === target && driver.installed_pin === input.package) {
      return { outcome: 'already_current', summary: `${this.host.hostname} already runs ${target} (${input.package})` };
    }
    const previous = driver.installed_pin;

    const scopes = run.id.runMode === 'plan' ? await DisruptionLease.plannedScopes(run) : [];
    const stop = await planCheckpoint(run, this.plan(previous, scopes), undefined);
    if (stop) return stop;

    // ---- procedure: out of service, new driver, reboot ----
    run.phase('procedure');
    this.lease = new DisruptionLease(run, input.node_id);
    await this.lease.acquire();
    await run.step('cordon_node', (ctx) => acts.platform.cordonNode(ctx, `${CORDON_PREFIX} to ${target}`));
    const drained = await this.drain();
    if (drained) return drained;

    try {
      await run.step('install_driver', (ctx) => acts.install.installDriverPackage(ctx, input.package, input.poll_interval), { describe: (tail) => tail });
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.CommandFailed) throw err;
      return this.rollback(previous, `the install failed (${failureOf(err).message})`, false);
    }
    const rebooted = await this.reboot('reboot_node');
    if (rebooted) return rebooted;
    const after = await this.readDriver('verify_driver');
    if (after.loaded !== target)
      return this.rollback(
        previous,
        `after the reboot nvidia-smi reports ${after.loaded ?? (after.mismatch ? 'a version mismatch' : 'nothing')}, not ${target}`,
        true,
      );
    const diag = await this.diag('run_diag');
    if (diag !== true) return this.rollback(previous, `dcgmi diag -r ${input.diag_level} on ${target}: ${diag}`, true);

    // ---- verify passed: back in service ----
    run.phase('verify');
    return this.returnToService(
      'upgraded',
      `${this.host.hostname} runs ${target}; dcgmi diag -r ${input.diag_level} passed on all ${this.host.gpu_count} GPUs`,
    );
  }

  /** The previous pin, installed the same way; the node serves again on its old driver only if it verifies. */
  private async rollback(previous: string, why: string, reboot: boolean): Promise<RunbookResult> {
    const { run, acts, input } = this;
    const old = versionOfPin(previous);
    run.phase('rollback');
    try {
      await run.step('install_previous_driver', (ctx) => acts.install.installDriverPackage(ctx, previous, input.poll_interval), { describe: (tail) => tail });
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.CommandFailed) throw err;
      return this.hold(`${why}; putting ${previous} back failed too (${failureOf(err).message})`);
    }
    if (reboot) {
      const rebooted = await this.reboot('reboot_after_rollback');
      if (rebooted) return rebooted;
    }
    const back = await this.readDriver('verify_previous_driver');
    if (back.loaded !== old) return this.hold(`${why}; after putting ${previous} back nvidia-smi reports ${back.loaded ?? 'nothing'}, not ${old}`);
    if (reboot) {
      const diag = await this.diag('rollback_diag');
      if (diag !== true) return this.hold(`${why}; back on ${old} the diag does not pass either (${diag})`);
    }
    return this.returnToService('rolled_back', `${why}; ${this.host.hostname} is back on ${old}${reboot ? `, diag -r ${input.diag_level} passed` : ''}`);
  }

  /** Waits for the node's allocations to end; forcing them needs an approval. Returns the run's end when it cannot go on. */
  private async drain(): Promise<RunbookResult | undefined> {
    const { run, acts, input } = this;
    const drain = await run.step('wait_for_drain', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval), {
      describe: (d) => (d.drained ? `drained in ${d.waited_ms} ms` : `${d.remaining} allocation(s) still running`),
    });
    if (drain.drained) return undefined;
    const force = await run.approval(
      'approve_force_drain',
      `${drain.remaining} allocation(s) on ${this.host.hostname} did not drain in time for the driver upgrade to ${input.driver_version}: evict them?`,
      { node_id: input.node_id, remaining: drain.remaining, package: input.package },
      input.approval_timeout,
      { kind: 'force_evict', disruption: `${drain.remaining} running allocation(s) on ${this.host.hostname} are stopped` },
    );
    if (force.decision !== 'approve') {
      const back = await this.returnToService(
        'drain_declined',
        `eviction ${force.decision === 'timeout' ? 'not approved in time' : 'declined'}; driver unchanged`,
      );
      return back;
    }
    await run.step('evict_allocations', (ctx) => acts.platform.evictAllocations(ctx, `driver upgrade approved by ${force.actor}: ${force.reason ?? ''}`));
    const after = await run.step('wait_for_drain_after_evict', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval));
    return after.drained ? undefined : this.hold(`${after.remaining} allocation(s) still run after the eviction; driver unchanged`);
  }

  private async reboot(step: string): Promise<RunbookResult | undefined> {
    const { run, acts, input } = this;
    const bootId = await run.step('read_boot_id', (ctx) => acts.read.readBootId(ctx));
    try {
      await run.step(step, (ctx) => acts.reboot.rebootHostAndWait(ctx, bootId, input.reboot_timeout, input.poll_interval), {
        describe: (b) => `back with boot id ${b}`,
      });
      return undefined;
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.RebootTimeout) throw err;
      return this.hold(failureOf(err).message);
    }
  }

  private readDriver(step: string): Promise<DriverState> {
    return this.run.step(step, (ctx) => this.acts.read.readDriverState(ctx), {
      describe: (d) => `loaded ${d.loaded ?? (d.mismatch ? 'unknown (version mismatch)' : 'none')}, package ${d.installed_pin ?? 'none'}`,
    });
  }

  /** true when every GPU the inventory lists passed; otherwise why not. */
  private async diag(step: string): Promise<true | string> {
    const { run, acts, input } = this;
    try {
      const d = await run.step(step, (ctx) => acts.diag.runGpuDiag(ctx, input.diag_level, input.poll_interval), {
        describe: (s) => {
          const v = assessDiagCoverage(s, this.host.gpu_count);
          return `dcgmi diag -r ${input.diag_level}: ${v.pass ? 'pass' : 'not a pass'} (${v.reason})`;
        },
      });
      const verdict = assessDiagCoverage(d, this.host.gpu_count);
      return verdict.pass ? true : verdict.reason;
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.DiagUnavailable) throw err;
      return `dcgmi could not run (${failureOf(err).message})`;
    }
  }

  /** Uncordons a node still cordoned for this runbook; someone else's cordon since is left in place. */
  private async returnToService(outcome: 'upgraded' | 'rolled_back' | 'drain_declined', summary: string): Promise<RunbookResult> {
    const { run, acts } = this;
    const now = await run.step('reread_node_state', (ctx) => acts.platform.readNodeState(ctx));
    if (!now.schedulable && !(now.cordon_reason ?? '').startsWith(CORDON_PREFIX)) {
      await run.skip('uncordon_node', `cordoned again by someone else (${now.cordon_reason ?? 'no reason'}); left cordoned`);
      await this.lease?.release();
      return { outcome, summary: `${summary}; left cordoned: someone else cordoned it meanwhile` };
    }
    await run.step('uncordon_node', (ctx) => acts.platform.uncordonNode(ctx, `${CORDON_PREFIX} ${summary}`.slice(0, 300)));
    await this.lease?.release();
    return { outcome, summary };
  }

  /** Cordoned and holding its slot until a person looks (budgets release frees it). */
  private hold(why: string): RunbookResult {
    return { outcome: 'held_for_operator', summary: `${this.host.hostname} left cordoned: ${why}` };
  }

  private plan(previous: string, scopes: string[]): Plan {
    const { input } = this;
    const h = this.host;
    const ssh = (step: string, argv: string[], mutates: boolean) => ({ kind: 'ssh' as const, step, host: h.hostname, host_role: h.role, argv, mutates });
    return {
      runbook: RUNBOOK_GPU_DRIVER_UPGRADE,
      node_id: input.node_id,
      actions: [
        { kind: 'lease', step: 'lease_disruption_slots', node_id: input.node_id, scopes },
        { kind: 'http', step: 'cordon_node', ...platformRequests.cordon(input.node_id, `${CORDON_PREFIX} to ${input.driver_version}`) },
        {
          kind: 'wait',
          step: 'wait_for_drain',
          until: 'no allocation runs',
          timeout_ms: input.drain_timeout,
          poll: { kind: 'http', step: 'wait_for_drain', ...platformRequests.listAllocations(input.node_id) },
        },
        ssh('install_driver', installDriverCommand(input.package), true),
        { kind: 'check', step: 'reboot_node', what: 'systemctl reboot, then a new boot id' },
        ssh('verify_driver', driverVersionCommand(), false),
        ssh('run_diag', diagCommand(input.diag_level), false),
        {
          kind: 'branch',
          step: 'verify',
          on: `nvidia-smi reports ${input.driver_version} and the diag passes on all ${h.gpu_count} GPUs`,
          cases: [
            { when: 'it does', actions: [] },
            {
              when: 'it does not',
              actions: [
                ssh('install_previous_driver', installDriverCommand(previous), true),
                { kind: 'check', step: 'reboot_after_rollback', what: 'reboot onto the previous driver' },
                ssh('verify_previous_driver', installedDriverCommand(), false),
                { kind: 'end', outcome: 'rolled_back', why: `back on ${versionOfPin(previous)} once it verifies` },
              ],
            },
          ],
        },
        { kind: 'http', step: 'uncordon_node', ...platformRequests.uncordon(input.node_id, `${CORDON_PREFIX} runs ${input.driver_version}`) },
        { kind: 'release', step: 'release_disruption_slots', node_id: input.node_id, scopes },
        { kind: 'end', outcome: 'upgraded', why: `${input.driver_version} loaded and the diag passed` },
      ],
    };
  }
}
