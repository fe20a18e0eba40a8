import { ApplicationFailure, isCancellation, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { EngineActivities } from '../../capabilities/evidence/engine-activities';
import type { GpuActivities, GpuObservations } from '../../capabilities/gpu/gpu-activities';
import type { PlatformActivities } from '../../capabilities/platform/platform-activities';
import type { KernelLogCursor } from '../../capabilities/gpu/kernel-log-window';
import { assessDiagCoverage } from './policies/diag-coverage';
import { ErrorType } from '../../domain/errors';
import { ActivityOptionSets } from '../../engine/activity-options';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { gpuFaultRemediationRunbook } from './definition';
import { DisruptionLease } from '../../engine/disruption-lease';
import { diagBudgetMs } from '../../domain/host-command-budgets';
import { classifyFindings, compareActions, type Classification } from './policies/fault-classification';
import { CORDON_REASON_PREFIX, cordonReason, gpusToReset, remediatedSummary, summarize, uncordonReason } from './policies/node-texts';
import {
  GpuFaultInputSchema,
  REPEAT_REMEDIATION_LIMIT,
  REPEAT_REMEDIATION_WINDOW_DAYS,
  RMA_MIN_DIAG_LEVEL,
  RUNBOOK_GPU_FAULT,
  type FaultAction,
  type GpuAlert,
  type GpuFaultInput,
  type GpuFaultOutcome,
  type GpuFaultRequest,
  gpuAlertSignal,
} from './input';
import type { DiagSummary, GpuRow } from '../../domain/gpu-observations';
import type { RunReport } from '../../domain/runbook';
import { gpuFaultRemediationV1 } from './workflow-v1';
import { failureOf } from '../../engine/failures';
import { RunbookRun, runRunbook, type ApprovalOptions, type RunbookResult } from '../../engine/runner';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { planRemediation } from './plan';

/** Runs started before this patch replay the frozen v1 code; new runs take the hardened path. */
const FLEET_HARDENING_PATCH = 'fleet-hardening';
/** Runs started before this patch take their node out of service without a disruption slot. */
const DISRUPTION_BUDGET_PATCH = 'disruption-budget';

type Diag = DiagSummary & { exit_code: number | null };

/**
 * gpu-fault-remediation: a GPU fault alert for one worker node.
 *
 * pre-checks (role, node state, observe, classify, repeat history) → cordon and
 * drain → reset GPU / reboot by class, then re-read the GPUs → diag (every GPU
 * the inventory lists must pass) → uncordon, or RMA behind an approval. The node
 * never returns to service without a passing diag in this run, and never when
 * someone else holds it out of service.
 */
export async function gpuFaultRemediation(request: GpuFaultRequest): Promise<RunReport> {
  if (!patched(FLEET_HARDENING_PATCH)) return gpuFaultRemediationV1(request);
  // Decided in the first activation, before any local activity: a patch checked later,
  // after local activities resolved in the same task, did not replay reliably.
  const leaseNodes = patched(DISRUPTION_BUDGET_PATCH);
  const parsed = parseWorkflowInput(GpuFaultInputSchema, request);
  const input: GpuFaultInput = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_GPU_FAULT, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });

  const alerts: GpuAlert[] = [
    { xid: input.xid, gpu_index: input.gpu_index, source: input.source, correlation_id: input.correlation_id, received_at: new Date().toISOString() },
  ];
  // Alerts with new information join the open run (the API coalesces the rest).
  // The handler only notes them; the main flow writes the evidence.
  setHandler(gpuAlertSignal, (alert) => {
    alerts.push(alert);
    run.queueEvidence('alert', 'alert', `alert from ${alert.source}: xid ${alert.xid ?? '-'} gpu ${alert.gpu_index ?? '-'}`, alert, alert.correlation_id);
  });

  return runRunbook(run, input, () => new GpuFaultRun(run, input, alerts, leaseNodes).remediate());
}

class GpuFaultRun {
  private readonly acts: ReturnType<typeof activitiesFor>;
  /** Where this run's kernel-log reading ends; kept when the run completes its remediation. */
  private cursor: KernelLogCursor | null = null;
  /** The node's disruption slots, from before the cordon until it is back in service. */
  private lease: DisruptionLease | undefined;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: GpuFaultInput,
    private readonly alerts: GpuAlert[],
    /** Take the node out of service only with disruption slots (runs started before that patch do not). */
    private readonly leaseNodes: boolean,
  ) {
    this.acts = activitiesFor(input);
  }

  /** Who hears about an approval nobody decided in time, when the caller named a group. */
  private get escalation(): ApprovalOptions['escalation'] {
    const e = this.input.approval_escalation;
    return e ? { after_ms: e.after, group: e.group } : undefined;
  }

  async remediate(): Promise<RunbookResult> {
    const { run, input, acts } = this;

    // ---- pre-checks: nothing on the host or the platform changes here ----
    run.phase('pre_checks');
    // Checked against the most destructive thing it may do: a reboot.
    const host = await resolveTarget(run, input.node_id, gpuFaultRemediationRunbook.targetAction, 'GPU fault remediation');
    const node = await run.step('read_node_state', (ctx) => acts.platform.readNodeState(ctx), {
      describe: (n) =>
        [
          n.schedulable ? 'schedulable' : `cordoned (${n.cordon_reason ?? 'no reason given'})`,
          n.open_rma_tickets.length ? `open RMA ${n.open_rma_tickets.join(', ')}` : '',
        ]
          .filter(Boolean)
          .join('; '),
    });
    const handled = await run.step('read_kernel_log_cursor', (ctx) => acts.evidence.readKernelLogCursor(ctx), {
      describe: (c) => (c ? `Xids up to ${c.through || 'boot'} of boot ${c.boot_id} already handled` : 'no earlier remediation recorded'),
    });
    const observed = await this.observe('read_gpu_state', handled);
    const classification = classifyFindings(observed.table, observed.xids);
    await run.step(
      'classify_findings',
      (ctx) => run.evidence(ctx, 'classification', summarize(classification), { classification, alerts: this.alerts, kernel_log: observed.kernel_log }),
      {
        describe: () => summarize(classification),
      },
    );

    // A healthy node never waits for a human: the repeat gate is read only for a fault that needs a drain.
    const needsDrain = classification.fault_found && compareActions(classification.action, 'drain_and_diagnose') >= 0;
    const previous = needsDrain
      ? await run.step('check_remediation_history', (ctx) => acts.evidence.countRecentRemediations(ctx, REPEAT_REMEDIATION_WINDOW_DAYS), {
          describe: (n) => `${n} earlier remediation(s) in ${REPEAT_REMEDIATION_WINDOW_DAYS} days`,
        })
      : undefined;

    // Plan mode ends here with the plan; a live run started from a plan goes on only if the world still matches it.
    if (input.run_mode === 'plan' || input.plan_hash) {
      const scopes = needsDrain && this.leaseNodes ? await DisruptionLease.plannedScopes(run) : undefined;
      const facts = { input, host, node, classification, gpus: observed.table.gpus, previous, scopes };
      const stop = await planCheckpoint(run, planRemediation(facts), input.plan_hash);
      if (stop) return stop;
    }

    if (!classification.fault_found) {
      return this.done('no_fault_found', `no new Xid or memory fault on ${host.hostname}; nothing was touched`);
    }
    if (!needsDrain) {
      return this.handled('no_action_required', `${summarize(classification)}; the node stays in service${maintenanceNote(classification)}`);
    }
    if (previous !== undefined && previous >= REPEAT_REMEDIATION_LIMIT) {
      const decision = await run.approval(
        'approve_repeat_remediation',
        `${host.hostname} was already remediated ${previous} times in ${REPEAT_REMEDIATION_WINDOW_DAYS} days. Remediate again?`,
        { node_id: input.node_id, earlier_remediations: previous, classification: classification.decisive, alerts: this.alerts },
        input.approval_timeout,
        { kind: 'repeat_remediation', disruption: `${host.hostname} is cordoned and drained again`, escalation: this.escalation },
      );
      if (decision.decision !== 'approve') return this.done('held_for_operator', `repeat remediation not approved (${decision.decision}); nothing was touched`);
    }

    // ---- procedure: inside the fleet's disruption budget, behind cordon and drain ----
    run.phase('procedure');
    if (this.leaseNodes) {
      this.lease = new DisruptionLease(run, input.node_id);
      await this.lease.acquire();
    }
    const cordonedByUs = node.schedulable;
    if (cordonedByUs) {
      // No rollback for the cordon: a node with a confirmed fault stays out of
      // service until a diag passes in this run (fail closed).
      await run.step('cordon_node', (ctx) => acts.platform.cordonNode(ctx, cordonReason(classification)));
    } else {
      await run.skip('cordon_node', `already cordoned by someone else (${node.cordon_reason ?? 'no reason given'}); it stays cordoned after this run`);
    }

    const drain = await run.step('wait_for_drain', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval), {
      describe: (d) => (d.drained ? `drained after ${d.waited_ms} ms` : `${d.remaining} allocation(s) still running after ${d.waited_ms} ms`),
    });
    if (!drain.drained) {
      const force = await run.approval(
        'approve_force_drain',
        `${drain.remaining} allocation(s) on ${host.hostname} did not drain in time. Force-evict them?`,
        { node_id: input.node_id, remaining: drain.remaining },
        input.approval_timeout,
        { kind: 'force_evict', disruption: `${drain.remaining} running allocation(s) on ${host.hostname} are evicted`, escalation: this.escalation },
      );
      if (force.decision !== 'approve')
        return this.done('held_for_operator', `drain did not finish and force-evict was not approved (${force.decision}); node stays cordoned`);
      await run.step('evict_allocations', (ctx) => acts.platform.evictAllocations(ctx, `approved by ${force.actor}: ${force.reason}`));
      const after = await run.step('wait_for_drain_after_evict', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval));
      if (!after.drained) return this.done('held_for_operator', `${after.remaining} allocation(s) survived the force-evict; node stays cordoned`);
    }

    let action: FaultAction = classification.action;
    let latest = observed;
    if (action === 'reset_gpu') {
      const reset = await this.resetGpus(classification, observed, host.gpu_count);
      if (reset.ok) latest = reset.observed;
      else action = 'reboot_node';
    }
    if (action === 'reboot_node') {
      const rebooted = await this.rebootNode(host.gpu_count, latest);
      if (rebooted.outcome === 'timed_out') return this.done('held_for_operator', `reboot failed: ${rebooted.why}; node stays cordoned`);
      if (rebooted.outcome === 'unhealthy') action = 'rma_candidate';
    }

    // ---- verify: a passing diag of every GPU is the only way back to service ----
    run.phase('verify');
    const level = action === 'rma_candidate' ? Math.max(RMA_MIN_DIAG_LEVEL, input.diag_level) : input.diag_level;
    const diags: Diag[] = [];
    const first = await this.diagnose('run_gpu_diag', level, host.gpu_count);
    if (first === 'unavailable') return this.done('held_for_operator', `dcgmi diag could not run on ${host.hostname}; node stays cordoned for a person`);
    diags.push(first.diag);
    let passed = first.passed;
    if (!first.passed && level < RMA_MIN_DIAG_LEVEL) {
      // Before anyone is asked about an RMA, a level 3 diag confirms the failure.
      const confirm = await this.diagnose('confirm_gpu_diag', RMA_MIN_DIAG_LEVEL, host.gpu_count);
      if (confirm === 'unavailable')
        return this.done('held_for_operator', `diag r${level} failed and the confirming r${RMA_MIN_DIAG_LEVEL} could not run; node stays cordoned`);
      diags.push(confirm.diag);
      if (confirm.passed) {
        return this.done(
          'held_for_operator',
          `diag r${level} failed (${first.reason}) but r${RMA_MIN_DIAG_LEVEL} passed: inconsistent, node stays cordoned for a person`,
        );
      }
      passed = false;
    }

    if (passed && action !== 'rma_candidate') {
      run.phase('return_to_service');
      return this.returnToService(cordonedByUs, node.open_rma_tickets, remediatedSummary(classification, action, level, host.gpu_count));
    }

    // ---- escalate: an RMA needs a human ----
    run.phase('escalate');
    const why =
      action === 'rma_candidate'
        ? `finding is an RMA candidate (${classification.decisive?.reason ?? 'GPUs unhealthy after the remedy'})`
        : diagFailureText(diags);
    if (node.open_rma_tickets.length > 0) {
      return this.handled(
        'held_for_operator',
        `${host.hostname}: ${why}; RMA ticket ${node.open_rma_tickets.join(', ')} is already open, no second ticket; node stays cordoned`,
      );
    }
    const failedGpus = [...new Set(diags.flatMap((d) => d.failed_gpus))];
    const rma = await run.approval(
      'approve_rma',
      `${host.hostname}: ${why}. Open an RMA ticket?`,
      { node_id: input.node_id, classification: classification.decisive, diags: diags.map(diagBrief) },
      input.approval_timeout,
      { kind: 'rma', disruption: `${host.hostname} stays out of service until its GPU is replaced`, escalation: this.escalation },
    );
    if (rma.decision !== 'approve') return this.handled('held_for_operator', `RMA not approved (${rma.decision}); node stays cordoned`);
    const failedUuid = observed.table.gpus.find((g) => failedGpus.includes(g.index))?.uuid ?? classification.affected_gpus[0]?.uuid;
    const ticket = await run.step(
      'open_rma_ticket',
      (ctx) =>
        acts.platform.openRmaTicket(ctx, {
          node_id: input.node_id,
          gpu_uuid: failedUuid || undefined,
          summary: `${host.hostname}: ${why}`,
          evidence: { classification, diags, approval: rma, alerts: this.alerts, workflow_id: workflowInfo().workflowId },
        }),
      { describe: (t) => `ticket ${t.ticket_id}` },
    );
    return this.handled('rma_opened', `RMA ticket ${ticket.ticket_id} opened for ${host.hostname}; node stays cordoned`);
  }

  /** Reads the GPU table and the Xids newer than `after`; the run's cursor moves to what was read. */
  private async observe(step: string, after: KernelLogCursor | null): Promise<GpuObservations> {
    const o = await this.run.step(step, (ctx) => this.acts.gpuRead.readGpuObservations(ctx, after), {
      describe: (r) =>
        `${r.table.gpus.length} GPU(s), ${r.table.lost_gpus.length} lost, ${r.xids.length} new Xid line(s)` +
        (r.kernel_log.older_lines_dropped ? ' (older NVRM lines beyond the read limit not read)' : ''),
    });
    this.cursor = o.cursor;
    return o;
  }

  /**
   * Resets the affected GPUs, then re-reads them. Only a refused reset (GPU in
   * use, lost, not resettable) or GPUs that are unhealthy after it lead to the
   * reboot; a cancel or a worker shutdown is never read as "the reset failed".
   */
  private async resetGpus(c: Classification, observed: GpuObservations, gpuCount: number): Promise<{ ok: true; observed: GpuObservations } | { ok: false }> {
    const { run } = this;
    const gpus = gpusToReset(c, observed.table.gpus, this.input.gpu_index);
    try {
      if (gpus.length === 0) throw ApplicationFailure.create({ type: ErrorType.ResetRefused, message: 'no GPU identified for a reset' });
      for (const gpu of gpus) await this.resetOneGpu(gpu);
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.ResetRefused) throw err;
      // Rollback, then the procedure again with the stronger remedy: a reboot
      // clears what a reset cannot (a busy, wedged or lost GPU).
      await run.compensate();
      run.phase('procedure');
      await run.skip('reset_gpu', `reset failed (${failureOf(err).message}); rebooting instead`);
      return { ok: false };
    }
    const after = await this.observe('verify_gpus_after_reset', observed.cursor);
    const problem = unhealthy(after, gpuCount);
    if (problem) {
      await run.skip('reset_gpu', `GPUs unhealthy after the reset (${problem}); rebooting instead`);
      return { ok: false };
    }
    return { ok: true, observed: after };
  }

  private async resetOneGpu(gpu: GpuRow): Promise<void> {
    const { run, acts, input } = this;
    const tag = `gpu${gpu.index}`;
    // Persistence mode holds the GPU open and blocks the reset; turn it off for
    // the reset and restore it after, or in rollback if anything fails between.
    if (gpu.persistence_mode === true) {
      await run.step(`disable_persistence_${tag}`, (ctx) => acts.gpuJob.setPersistenceMode(ctx, gpu.uuid, false, input.poll_interval));
      run.onRollback(`disable_persistence_${tag}`, () =>
        acts.gpuJob.setPersistenceMode(run.context(`restore_persistence_${tag}`), gpu.uuid, true, input.poll_interval),
      );
    }
    await run.step(`reset_${tag}`, (ctx) => acts.gpuJob.resetGpu(ctx, gpu.uuid, input.poll_interval), { describe: (out) => out });
    if (gpu.persistence_mode === true) {
      await run.step(`restore_persistence_${tag}`, (ctx) => acts.gpuJob.setPersistenceMode(ctx, gpu.uuid, true, input.poll_interval));
      run.dropRollback(`disable_persistence_${tag}`);
    }
  }

  /** Reboots and waits for a new boot id, then re-reads the GPUs of the new boot. */
  private async rebootNode(gpuCount: number, before: GpuObservations): Promise<{ outcome: 'healthy' | 'unhealthy' } | { outcome: 'timed_out'; why: string }> {
    const { run, acts, input } = this;
    const bootId = await run.step('read_boot_id', (ctx) => acts.gpuRead.readBootId(ctx));
    try {
      await run.step('reboot_node', (ctx) => acts.reboot.rebootHostAndWait(ctx, bootId, input.reboot_timeout, input.poll_interval), {
        describe: (b) => `back with boot id ${b}`,
      });
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.RebootTimeout) throw err;
      run.phase('escalate');
      return { outcome: 'timed_out', why: failureOf(err).message };
    }
    // A new boot: its whole kernel log is new, so the old cursor does not apply.
    const after = await this.observe('verify_gpus_after_reboot', before.cursor);
    const problem = unhealthy(after, gpuCount);
    if (problem) await run.skip('return_after_reboot', `GPUs unhealthy after the reboot (${problem}); escalating to RMA`);
    return { outcome: problem ? 'unhealthy' : 'healthy' };
  }

  /** One diag run and its verdict over every GPU the inventory lists; 'unavailable' when dcgmi could not run. */
  private async diagnose(step: string, level: number, gpuCount: number): Promise<{ diag: Diag; passed: boolean; reason: string } | 'unavailable'> {
    const { run, acts, input } = this;
    let diag: Diag;
    try {
      diag = await run.step(step, (ctx) => acts.diag(level).runGpuDiag(ctx, level, input.poll_interval), {
        describe: (d) => {
          const verdict = assessDiagCoverage(d, gpuCount);
          return `dcgmi diag -r ${level}: ${verdict.pass ? 'pass' : 'not a pass'} (${verdict.reason})`;
        },
      });
    } catch (err) {
      if (isCancellation(err) || failureOf(err).type !== ErrorType.DiagUnavailable) throw err;
      return 'unavailable';
    }
    const verdict = assessDiagCoverage(diag, gpuCount);
    await run.evidence(
      run.context(step),
      'diag',
      `diag r${level}: ${verdict.pass ? 'pass' : 'not a pass'} (${verdict.reason})`,
      { diag, verdict },
      `diag-r${level}`,
    );
    return { diag, passed: verdict.pass, reason: verdict.reason };
  }

  /**
   * Uncordons only a node this run cordoned, with no open RMA ticket, and still
   * cordoned for this runbook's reason (re-read now: someone may have cordoned
   * it for maintenance while the run worked).
   */
  private async returnToService(cordonedByUs: boolean, openTickets: string[], summary: string): Promise<RunbookResult> {
    const { run, acts } = this;
    const now = await run.step('reread_node_state', (ctx) => acts.platform.readNodeState(ctx));
    const tickets = [...new Set([...openTickets, ...now.open_rma_tickets])];
    const heldBy = !cordonedByUs
      ? 'it was cordoned before this run'
      : tickets.length > 0
        ? `RMA ticket ${tickets.join(', ')} is open`
        : !now.schedulable && !(now.cordon_reason ?? '').startsWith(CORDON_REASON_PREFIX)
          ? `it was cordoned again by someone else (${now.cordon_reason ?? 'no reason given'})`
          : undefined;
    if (heldBy) {
      await run.skip('uncordon_node', `${heldBy}; left cordoned`);
      // Out of service by someone else's hand now: it counts against the budget as such.
      await this.lease?.release();
      return this.handled('remediated_left_cordoned', `${summary}; ${heldBy}, so it stays cordoned`);
    }
    await run.step('uncordon_node', (ctx) => acts.platform.uncordonNode(ctx, uncordonReason(summary)));
    await this.lease?.release();
    return this.handled('returned_to_service', `${summary}, node back in service`);
  }

  /** An outcome that handled the Xids read: the node's next run starts reading after them. */
  private async handled(outcome: GpuFaultOutcome, summary: string): Promise<RunbookResult> {
    const cursor = this.cursor;
    if (cursor) await this.run.step('record_kernel_log_cursor', (ctx) => this.acts.evidence.recordKernelLogCursor(ctx, cursor));
    return this.done(outcome, summary);
  }

  private done(outcome: GpuFaultOutcome, summary: string): RunbookResult {
    return { outcome, summary };
  }
}

/** Why GPUs read after a remedy are not fit for a diag: missing, lost, or new Xids; undefined when fine. */
function unhealthy(o: GpuObservations, gpuCount: number): string | undefined {
  const problems: string[] = [];
  if (o.table.node_error) problems.push(`nvidia-smi: ${o.table.node_error}`);
  if (gpuCount > 0 && o.table.gpus.length < gpuCount) problems.push(`${o.table.gpus.length} of ${gpuCount} GPUs visible`);
  if (o.table.lost_gpus.length > 0) problems.push(`${o.table.lost_gpus.length} GPU(s) lost`);
  if (o.xids.length > 0) problems.push(`new Xid ${[...new Set(o.xids.map((x) => x.xid))].join(', ')}`);
  return problems.length ? problems.join('; ') : undefined;
}

function maintenanceNote(c: Classification): string {
  if (c.maintenance.length === 0) return '';
  return `; for the next maintenance reset: ${c.maintenance.map((m) => `GPU ${m.index} ${m.reason}`).join('; ')}`;
}

function diagFailureText(diags: Diag[]): string {
  return diags.map((d) => `diag r${d.level} failed on GPU(s) ${d.failed_gpus.join(', ') || '?'}`).join('; ');
}

function diagBrief(d: Diag) {
  return { level: d.level, overall: d.overall, failed_gpus: d.failed_gpus, exit_code: d.exit_code };
}

/** The capabilities this runbook uses, each with the engine's option set for its kind of call. */
function activitiesFor(input: GpuFaultInput) {
  const poll = input.poll_interval;
  return {
    evidence: proxyActivities<EngineActivities>(ActivityOptionSets.records),
    gpuRead: proxyActivities<GpuActivities>(ActivityOptionSets.hostRead),
    gpuJob: proxyActivities<GpuActivities>(ActivityOptionSets.hostJob(poll)),
    platform: proxyActivities<PlatformActivities>(ActivityOptionSets.platformCall),
    drain: proxyActivities<PlatformActivities>(ActivityOptionSets.boundedWait(input.drain_timeout, poll)),
    reboot: proxyActivities<GpuActivities>(ActivityOptionSets.boundedWait(input.reboot_timeout, poll)),
    diag: (level: number) => proxyActivities<GpuActivities>(ActivityOptionSets.budgetedJob(diagBudgetMs(level), poll)),
  };
}
