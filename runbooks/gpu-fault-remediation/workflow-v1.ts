import type { Duration } from '@temporalio/common';
import { ApplicationFailure, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { RunbookActivities } from '../../capabilities';
import { NON_RETRYABLE_ERROR_TYPES, ErrorType } from '../../domain/errors';
import { classifyFindings, compareActions, type Classification } from './policies/fault-classification';
import {
  GpuFaultInputSchema,
  REPEAT_REMEDIATION_LIMIT,
  REPEAT_REMEDIATION_WINDOW_DAYS,
  RMA_MIN_DIAG_LEVEL,
  RUNBOOK_GPU_FAULT,
  type GpuAlert,
  type GpuFaultInput,
  type GpuFaultOutcome,
  type GpuFaultRequest,
  gpuAlertSignal,
} from './input';
import type { GpuRow } from '../../domain/gpu-observations';
import { isActionAllowed } from '../../domain/host-roles';
import type { RunReport } from '../../domain/runbook';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { failureOf } from '../../engine/failures';

const retry = { initialInterval: '1s' as Duration, maximumInterval: '30s' as Duration, nonRetryableErrorTypes: NON_RETRYABLE_ERROR_TYPES };

/** Diag budget per level: generous, since level 3 takes ~15 min on 8 GPUs and level 4 much longer. */
const DIAG_TIMEOUT = { 1: '10m', 2: '15m', 3: '1h', 4: '4h' } as const;

/**
 * FROZEN. The gpu-fault-remediation code that runs started before the
 * `fleet-hardening` patch executed; gpuFaultRemediation() routes their replay
 * here so they finish as they began. Do not change it: fixes go into
 * ../gpu-fault-remediation.ts. Delete it (and deprecate the patch) once no run
 * older than the patch is open.
 *
 * gpu-fault-remediation: a GPU fault alert for one worker node.
 * pre-checks (role, repeat history, observe, classify) → cordon and drain →
 * reset GPU / reboot / nothing by class → diag → uncordon, or RMA behind an approval.
 * The node never returns to service without a passing diag in this run.
 */
export async function gpuFaultRemediationV1(request: GpuFaultRequest): Promise<RunReport> {
  const parsed = GpuFaultInputSchema.safeParse(request);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidInput,
      message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      nonRetryable: true,
    });
  }
  const input: GpuFaultInput = { ...parsed.data, correlation_id: parsed.data.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_GPU_FAULT, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });

  const alerts: GpuAlert[] = [
    { xid: input.xid, gpu_index: input.gpu_index, source: input.source, correlation_id: input.correlation_id, received_at: new Date().toISOString() },
  ];
  // Repeated alerts for this node join the open run; each one becomes evidence.
  setHandler(gpuAlertSignal, async (alert) => {
    alerts.push(alert);
    const ctx = run.context(`alert-${alerts.length}`, 0);
    await run.evidence(
      { ...ctx, correlation_id: alert.correlation_id },
      'alert',
      `alert from ${alert.source}: xid ${alert.xid ?? '-'} gpu ${alert.gpu_index ?? '-'}`,
      alert,
    );
  });

  return runRunbook(run, input, () => remediate(run, input, alerts));
}

async function remediate(run: RunbookRun, input: GpuFaultInput, alerts: GpuAlert[]): Promise<RunbookResult> {
  const acts = activitiesFor(input);

  // ---- pre-checks: nothing on the host changes here ----
  run.phase('pre_checks');
  const host = await run.step('resolve_target', () => acts.inventory.describeHost(input.node_id), {
    describe: (h) => `${h.hostname} (${h.role})`,
  });
  run.setTarget({ node_id: host.node_id, host_name: host.hostname, host_role: host.role });
  await run.step('check_host_role', async () => {
    if (!isActionAllowed('read_gpu_state', host.role)) {
      throw ApplicationFailure.create({
        type: ErrorType.HostRoleViolation,
        message: `${host.hostname} is ${host.role}; GPU fault remediation runs only on worker_compute hosts`,
        nonRetryable: true,
      });
    }
  });

  const previous = await run.step('check_remediation_history', (ctx) => acts.engine.countRecentRemediations(ctx, REPEAT_REMEDIATION_WINDOW_DAYS), {
    describe: (n) => `${n} earlier remediation(s) in ${REPEAT_REMEDIATION_WINDOW_DAYS} days`,
  });
  if (previous >= REPEAT_REMEDIATION_LIMIT) {
    const decision = await run.approval(
      'approve_repeat_remediation',
      `${host.hostname} was already remediated ${previous} times in ${REPEAT_REMEDIATION_WINDOW_DAYS} days. Remediate again?`,
      { node_id: input.node_id, earlier_remediations: previous, alerts },
      input.approval_timeout,
    );
    if (decision.decision !== 'approve') return held(`repeat remediation not approved (${decision.decision}); nothing was touched`);
  }

  const observed = await run.step('read_gpu_state', (ctx) => acts.hostRead.readGpuObservations(ctx), {
    describe: (o) => `${o.table.gpus.length} GPU(s), ${o.table.lost_gpus.length} lost, ${o.xids.length} Xid line(s)`,
  });
  const classification = classifyFindings(observed.table, observed.xids);
  await run.step('classify_findings', (ctx) => run.evidence(ctx, 'classification', summarize(classification), { classification, alerts }), {
    describe: () => summarize(classification),
  });

  if (!classification.fault_found) {
    return done('no_fault_found', `no Xid or memory fault on ${host.hostname}; nothing was touched`);
  }
  if (compareActions(classification.action, 'drain_and_diagnose') < 0) {
    return done('no_action_required', `${summarize(classification)}; the node stays in service`);
  }

  // ---- procedure: node by node, behind cordon and drain ----
  run.phase('procedure');
  // No rollback for the cordon: a node with a confirmed fault stays out of
  // service until a diag passes in this run (fail closed).
  await run.step('cordon_node', (ctx) => acts.platform.cordonNode(ctx, `gpu-fault: ${summarize(classification)}`));

  const drain = await run.step('wait_for_drain', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval), {
    describe: (d) => (d.drained ? `drained after ${d.waited_ms} ms` : `${d.remaining} allocation(s) still running after ${d.waited_ms} ms`),
  });
  if (!drain.drained) {
    const force = await run.approval(
      'approve_force_drain',
      `${drain.remaining} allocation(s) on ${host.hostname} did not drain in time. Force-evict them?`,
      { node_id: input.node_id, remaining: drain.remaining },
      input.approval_timeout,
    );
    if (force.decision !== 'approve') return held(`drain did not finish and force-evict was not approved (${force.decision}); node stays cordoned`);
    await run.step('evict_allocations', (ctx) => acts.platform.evictAllocations(ctx, `approved by ${force.actor}: ${force.reason}`));
    const after = await run.step('wait_for_drain_after_evict', (ctx) => acts.drain.waitForDrain(ctx, input.drain_timeout, input.poll_interval));
    if (!after.drained) return held(`${after.remaining} allocation(s) survived the force-evict; node stays cordoned`);
  }

  let action = classification.action;
  if (action === 'reset_gpu') {
    const gpus = gpusToReset(classification, observed.table.gpus, input.gpu_index);
    try {
      if (gpus.length === 0) throw ApplicationFailure.create({ type: 'NoResettableGpu', message: 'no GPU identified for a reset' });
      for (const gpu of gpus) await resetOneGpu(run, acts, gpu);
    } catch (err) {
      // Rollback, then the procedure again with the stronger remedy: a reboot
      // clears what a reset cannot (a busy, wedged or lost GPU).
      await run.compensate();
      run.phase('procedure');
      await run.skip('reset_gpu', `reset failed (${failureOf(err).message}); rebooting instead`);
      action = 'reboot_node';
    }
  }
  if (action === 'reboot_node') {
    const bootId = await run.step('read_boot_id', (ctx) => acts.hostRead.readBootId(ctx));
    try {
      await run.step('reboot_node', (ctx) => acts.reboot.rebootHostAndWait(ctx, bootId, input.reboot_timeout, input.poll_interval), {
        describe: (b) => `back with boot id ${b}`,
      });
    } catch (err) {
      run.phase('escalate');
      return held(`reboot failed: ${failureOf(err).message}; node stays cordoned`);
    }
  }

  // ---- verify: a passing diag is the only way back to service ----
  run.phase('verify');
  const level = action === 'rma_candidate' ? Math.max(RMA_MIN_DIAG_LEVEL, input.diag_level) : input.diag_level;
  const diag = await run.step('run_gpu_diag', (ctx) => acts.diag(level).runGpuDiag(ctx, level), {
    describe: (d) => `dcgmi diag -r ${level}: ${d.overall}${d.failed_gpus.length ? ` (failed GPUs ${d.failed_gpus.join(', ')})` : ''}`,
  });
  await run.evidence(run.context('run_gpu_diag'), 'diag', `diag r${level}: ${diag.overall}`, diag, `diag-r${level}`);

  if (diag.overall === 'pass' && action !== 'rma_candidate') {
    run.phase('return_to_service');
    await run.step('uncordon_node', (ctx) => acts.platform.uncordonNode(ctx, `gpu-fault: diag r${level} passed after ${action}`));
    return done('returned_to_service', `${summarize(classification)}; ${action} done, diag r${level} passed, node back in service`);
  }

  // ---- escalate: RMA needs a human ----
  run.phase('escalate');
  const why =
    action === 'rma_candidate'
      ? `finding is an RMA candidate (${classification.decisive?.reason})`
      : `diag r${level} failed on GPU(s) ${diag.failed_gpus.join(', ') || '?'}`;
  const rma = await run.approval(
    'approve_rma',
    `${host.hostname}: ${why}. Open an RMA ticket?`,
    { node_id: input.node_id, classification: classification.decisive, diag_failed_gpus: diag.failed_gpus, diag_overall: diag.overall },
    input.approval_timeout,
  );
  if (rma.decision !== 'approve') return held(`RMA not approved (${rma.decision}); node stays cordoned`);
  const failedUuid = observed.table.gpus.find((g) => diag.failed_gpus.includes(g.index))?.uuid ?? classification.affected_gpus[0]?.uuid;
  const ticket = await run.step(
    'open_rma_ticket',
    (ctx) =>
      acts.platform.openRmaTicket(ctx, {
        node_id: input.node_id,
        gpu_uuid: failedUuid || undefined,
        summary: `${host.hostname}: ${why}`,
        evidence: { classification, diag, approval: rma, alerts, workflow_id: workflowInfo().workflowId },
      }),
    { describe: (t) => `ticket ${t.ticket_id}` },
  );
  return done('rma_opened', `RMA ticket ${ticket.ticket_id} opened for ${host.hostname}; node stays cordoned`);
}

async function resetOneGpu(run: RunbookRun, acts: ReturnType<typeof activitiesFor>, gpu: GpuRow): Promise<void> {
  const tag = `gpu${gpu.index}`;
  // Persistence mode holds the GPU open and blocks the reset; turn it off for
  // the reset and restore it after, or in rollback if anything fails between.
  if (gpu.persistence_mode === true) {
    await run.step(`disable_persistence_${tag}`, (ctx) => acts.hostWrite.setPersistenceMode(ctx, gpu.uuid, false));
    run.onRollback(`disable_persistence_${tag}`, () => acts.hostWrite.setPersistenceMode(run.context(`restore_persistence_${tag}`), gpu.uuid, true));
  }
  await run.step(`reset_${tag}`, (ctx) => acts.hostWrite.resetGpu(ctx, gpu.uuid), { describe: (out) => out });
  if (gpu.persistence_mode === true) {
    await run.step(`restore_persistence_${tag}`, (ctx) => acts.hostWrite.setPersistenceMode(ctx, gpu.uuid, true));
    run.dropRollback(`disable_persistence_${tag}`);
  }
}

/** GPUs the decisive finding points at; else the alert's GPU index. */
function gpusToReset(c: Classification, table: GpuRow[], alertGpu: number | undefined): GpuRow[] {
  const byUuid = c.affected_gpus.map((a) => table.find((g) => g.uuid === a.uuid)).filter((g): g is GpuRow => !!g);
  if (byUuid.length > 0) return byUuid;
  const fromAlert = table.find((g) => g.index === alertGpu);
  return fromAlert ? [fromAlert] : [];
}

function summarize(c: Classification): string {
  if (!c.decisive) return 'no fault found';
  const gpus = c.affected_gpus.map((g) => g.index).join(', ');
  return `${c.decisive.reason} → ${c.action}${gpus ? ` (GPU ${gpus})` : ''}; ${c.findings.length} finding(s)`;
}

function done(outcome: GpuFaultOutcome, summary: string): RunbookResult {
  return { outcome, summary };
}

function held(summary: string): RunbookResult {
  return { outcome: 'held_for_operator', summary };
}

/** Activity proxies with timeouts fitted to each kind of call; waits come from the input. */
function activitiesFor(input: GpuFaultInput) {
  const heartbeatTimeout = Math.max(10_000, input.poll_interval * 3);
  const proxy = (startToCloseTimeout: Duration, maximumAttempts: number, heartbeat?: number) =>
    proxyActivities<RunbookActivities>({
      startToCloseTimeout,
      heartbeatTimeout: heartbeat,
      retry: { ...retry, maximumAttempts },
    });
  return {
    inventory: proxy('10s', 3),
    engine: proxy('30s', 10),
    hostRead: proxy('2m', 5),
    hostWrite: proxy('2m', 3),
    platform: proxy('1m', 10),
    drain: proxy(input.drain_timeout + 60_000, 5, heartbeatTimeout),
    reboot: proxy(input.reboot_timeout + 60_000, 3, heartbeatTimeout),
    diag: (level: number) => proxy(DIAG_TIMEOUT[level as 1 | 2 | 3 | 4] ?? '1h', 2, 30_000),
  };
}
