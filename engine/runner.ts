import {
  CancellationScope,
  condition,
  isCancellation,
  log,
  proxyLocalActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
  allHandlersFinished,
  ApplicationFailure,
} from '@temporalio/workflow';
import type { EngineActivities } from '../capabilities/evidence/engine-activities';
import type { HostRole } from '../domain/host-roles';
import { approvalSignal, cancelRequestSignal, statusQuery } from '../domain/messages';
import type {
  ApprovalDecision,
  ApprovalRecord,
  ApprovalRequest,
  BlockedOn,
  CancelRequest,
  Phase,
  RunMode,
  RunReport,
  RunStatus,
  StepRecord,
} from '../domain/runbook';
import type { PlanSummary } from '../domain/plan';
import { MEMO_REQUESTED_BY } from '../domain/runbook';
import { SA } from '../domain/search-attributes';
import type { StepContext } from '../domain/step-context';
import type { EvidenceKind } from '../capabilities/evidence/evidence-store';
import { BOOKKEEPING_OPTIONS } from './activity-options';
import { failureOf } from './failures';

const engine = proxyLocalActivities<EngineActivities>(BOOKKEEPING_OPTIONS);

export interface RunbookIdentity {
  runbook: string;
  correlationId: string;
  runMode: RunMode;
  nodeId?: string;
}

/** Evidence a message handler noted; written by the main flow, so a handler never awaits I/O. */
interface QueuedEvidence {
  ctx: StepContext;
  kind: EvidenceKind;
  summary: string;
  data: unknown;
}

interface Undo {
  step: string;
  /** The step record the undo belongs to (a name may repeat). */
  seq: number | undefined;
  run: () => Promise<void>;
}

export interface StepOptions<T> {
  /** One line for the status query and the report. */
  describe?: (result: T) => string;
}

/**
 * The shared step runner. Owns the run's status (served by the `status` query),
 * its search attributes, approvals, compensation and the final report. A runbook
 * is a function that calls `step`, `approval` and `phase` in order.
 */
export class RunbookRun {
  readonly status: RunStatus;
  private readonly undos: Undo[] = [];
  private readonly evidenceRefs: string[] = [];
  private readonly attempts = new Map<string, number>();
  private readonly queuedEvidence: QueuedEvidence[] = [];
  private readonly abortHooks: (() => Promise<void>)[] = [];
  private queuedCount = 0;
  private readonly startedAt = new Date().toISOString();
  private decision: ApprovalDecision | undefined;
  cancelRequest: CancelRequest | undefined;

  constructor(readonly id: RunbookIdentity) {
    const info = workflowInfo();
    this.status = {
      runbook: id.runbook,
      workflow_id: info.workflowId,
      run_mode: id.runMode,
      correlation_id: id.correlationId,
      requested_by: requesterOf(info.memo),
      phase: 'trigger',
      current_step: null,
      steps: [],
      pending_approval: null,
      approvals: [],
      outcome: null,
      target: id.nodeId ? { node_id: id.nodeId } : undefined,
    };
    setHandler(statusQuery, () => this.status);
    setHandler(approvalSignal, (d) => this.onApproval(d));
    setHandler(cancelRequestSignal, (c) => {
      this.cancelRequest = c;
      log.info('cancel requested', { ...this.logFields(), actor: c.actor, reason: c.reason });
    });
    upsertSearchAttributes([
      { key: SA.Runbook, value: id.runbook },
      { key: SA.RunbookPhase, value: 'trigger' },
      { key: SA.CorrelationId, value: id.correlationId },
      { key: SA.RunMode, value: id.runMode },
      { key: SA.AwaitingApproval, value: false },
      ...(id.nodeId ? [{ key: SA.NodeId, value: id.nodeId }] : []),
    ]);
  }

  /** Context for an activity call made by the step named `step`. */
  context(step: string, seq = this.status.steps.length + 1): StepContext {
    const info = workflowInfo();
    return {
      workflow_id: info.workflowId,
      run_id: info.runId,
      runbook: this.id.runbook,
      correlation_id: this.id.correlationId,
      step,
      idempotency_key: `${info.workflowId}/${info.runId}/${seq}-${step}`,
      node_id: this.id.nodeId,
      host_name: this.status.target?.host_name,
      host_role: this.status.target?.host_role,
    };
  }

  setTarget(target: { node_id: string; host_name: string; host_role: HostRole }): void {
    this.status.target = target;
    upsertSearchAttributes([
      { key: SA.NodeId, value: target.node_id },
      { key: SA.HostName, value: target.host_name },
      { key: SA.HostRole, value: target.host_role },
    ]);
  }

  phase(phase: Phase): void {
    if (this.status.phase === phase) return;
    this.status.phase = phase;
    upsertSearchAttributes([{ key: SA.RunbookPhase, value: phase }]);
    log.info(`phase ${phase}`, this.logFields());
  }

  /**
   * Notes evidence from a signal or update handler. A handler must never be able
   * to end the run: awaiting a database write there lets a cancel or a database
   * hiccup close or fail the workflow without compensation. So handlers only
   * queue; the main flow writes the queue before each step and at the end.
   */
  queueEvidence(name: string, kind: EvidenceKind, summary: string, data: unknown, correlationId?: string): void {
    this.queuedCount += 1;
    const ctx = this.context(`${name}-${this.queuedCount}`, 0);
    this.queuedEvidence.push({ ctx: correlationId ? { ...ctx, correlation_id: correlationId } : ctx, kind, summary, data });
  }

  private async writeQueuedEvidence(): Promise<void> {
    while (this.queuedEvidence.length > 0) {
      const e = this.queuedEvidence.shift()!;
      await this.evidence(e.ctx, e.kind, e.summary, e.data);
    }
  }

  /** Runs one named step: records it, and on failure records the typed error and rethrows. */
  async step<T>(name: string, fn: (ctx: StepContext) => Promise<T>, opts: StepOptions<T> = {}): Promise<T> {
    await this.writeQueuedEvidence();
    const record = this.begin(name);
    const ctx = this.context(name, record.seq);
    try {
      const result = await fn(ctx);
      record.detail = opts.describe?.(result);
      await this.end(record, 'completed', ctx);
      return result;
    } catch (err) {
      record.error = failureOf(err);
      await CancellationScope.nonCancellable(() => this.end(record, 'failed', ctx));
      throw err;
    }
  }

  /** Marks a step that the runbook decided not to run, with the reason. */
  async skip(name: string, why: string): Promise<void> {
    const record = this.begin(name);
    record.detail = why;
    await this.end(record, 'skipped', this.context(name, record.seq));
  }

  /** Registers the undo of a completed mutating step; run in reverse on failure or cancel. */
  onRollback(step: string, run: () => Promise<void>): void {
    this.undos.push({ step, seq: this.lastStep(step)?.seq, run });
  }

  /**
   * Work to do when the run fails or is cancelled, after the rollbacks, not
   * cancellable (e.g. giving back disruption slots). Unlike an undo it is not
   * run by a rollback in the middle of the procedure.
   */
  onAbort(hook: () => Promise<void>): void {
    this.abortHooks.push(hook);
  }

  async runAbortHooks(): Promise<void> {
    for (const hook of this.abortHooks.splice(0)) {
      try {
        await hook();
      } catch (err) {
        log.error('abort hook failed', { ...this.logFields(), error: failureOf(err).message });
      }
    }
  }

  /** Shows (or clears) the disruption budget the run waits for, in its status and search attributes. */
  blockedOn(blocked: BlockedOn | null): void {
    this.status.blocked_on = blocked;
    upsertSearchAttributes([{ key: SA.BlockedOnBudget, value: blocked !== null }]);
    if (blocked) log.info('waiting for a disruption slot', { ...this.logFields(), scope: blocked.scope, holders: blocked.holders });
  }

  /** The plan the run made (plan mode) or follows (a live run started from one): in its status, report and approvals. */
  followPlan(plan: PlanSummary): void {
    this.status.plan = plan;
  }

  /** Drops an undo once the procedure restored the state itself. */
  dropRollback(step: string): void {
    for (let i = this.undos.length - 1; i >= 0; i--) {
      if (this.undos[i]!.step === step) {
        this.undos.splice(i, 1);
        return;
      }
    }
  }

  /**
   * Waits for an operator's decision, delivered by the `approval` signal, or the
   * timeout. The decision (or timeout) is recorded in the step history and as evidence.
   */
  async approval(name: string, question: string, context: Record<string, unknown>, timeoutMs: number): Promise<ApprovalRecord> {
    const record = this.begin(name);
    const now = Date.now();
    const request: ApprovalRequest = {
      id: `${record.seq}-${name}`,
      step: name,
      question,
      requested_at: new Date(now).toISOString(),
      timeout_at: new Date(now + timeoutMs).toISOString(),
      context,
      ...(this.status.plan ? { plan_hash: this.status.plan.plan_hash } : {}),
    };
    this.decision = undefined;
    this.status.pending_approval = request;
    upsertSearchAttributes([{ key: SA.AwaitingApproval, value: true }]);
    log.info('awaiting approval', { ...this.logFields(), approval_id: request.id, question });

    let decided: boolean;
    try {
      decided = await condition(() => this.decision !== undefined, timeoutMs);
    } catch (err) {
      // Cancelled while waiting: close the request so the run no longer shows as
      // waiting on a human, and record how the step ended.
      await CancellationScope.nonCancellable(async () => {
        this.status.pending_approval = null;
        upsertSearchAttributes([{ key: SA.AwaitingApproval, value: false }]);
        record.error = failureOf(err);
        record.detail = 'cancelled while waiting for a decision';
        await this.end(record, 'failed', this.context(name, record.seq));
      });
      throw err;
    }
    // Set by the signal handler while we waited; TS cannot see that.
    const d = this.decision as ApprovalDecision | undefined;
    const result: ApprovalRecord =
      decided && d
        ? { ...request, decision: d.decision, actor: d.actor, reason: d.reason, decided_at: new Date().toISOString() }
        : { ...request, decision: 'timeout', decided_at: new Date().toISOString() };
    this.status.pending_approval = null;
    this.status.approvals.push(result);
    upsertSearchAttributes([{ key: SA.AwaitingApproval, value: false }]);
    record.detail = result.decision === 'timeout' ? 'no decision before the timeout' : `${result.decision} by ${result.actor}: ${result.reason}`;
    const ctx = this.context(name, record.seq);
    await this.evidence(ctx, 'decision', `${name}: ${record.detail}`, result);
    await this.end(record, 'completed', ctx);
    return result;
  }

  async evidence(ctx: StepContext, kind: EvidenceKind, summary: string, data: unknown, keySuffix: string = kind): Promise<void> {
    const ref = await engine.recordEvidence(ctx, { idempotency_key: `${ctx.idempotency_key}/${keySuffix}`, kind, summary, data });
    this.evidenceRefs.push(ref);
  }

  /** Runs the registered undos newest first; an undo that fails is recorded and the rest still run. */
  async compensate(): Promise<void> {
    if (this.undos.length === 0) return;
    this.phase('rollback');
    for (const undo of this.undos.splice(0).reverse()) {
      const stepRecord = this.status.steps.find((s) => s.seq === undo.seq);
      try {
        await undo.run();
        if (stepRecord) stepRecord.status = 'compensated';
      } catch (err) {
        if (stepRecord) {
          stepRecord.status = 'compensation_failed';
          stepRecord.error = failureOf(err);
        }
        log.error('compensation failed', { ...this.logFields(), step: undo.step, error: failureOf(err).message });
      }
      if (stepRecord) await engine.recordStep(this.context(stepRecord.name, stepRecord.seq), { ...stepRecord });
    }
  }

  async start(input: unknown): Promise<void> {
    await engine.recordRunStarted(this.context('trigger', 0), input, this.id.runMode, this.status.requested_by);
  }

  async finish(outcome: string, summary: string, status: 'completed' | 'failed' | 'cancelled'): Promise<RunReport> {
    await condition(allHandlersFinished);
    await this.writeQueuedEvidence();
    this.status.outcome = outcome;
    this.status.current_step = null;
    this.phase('done');
    const report: RunReport = {
      runbook: this.id.runbook,
      workflow_id: this.status.workflow_id,
      correlation_id: this.id.correlationId,
      outcome,
      summary,
      steps: this.status.steps,
      approvals: this.status.approvals,
      evidence_refs: this.evidenceRefs,
      ...(this.status.plan ? { plan: this.status.plan } : {}),
      started_at: this.startedAt,
      ended_at: new Date().toISOString(),
    };
    await engine.recordRunFinished(this.context('finish', 0), status, report);
    log.info(`run finished: ${outcome}`, { ...this.logFields(), outcome });
    return report;
  }

  logFields(): Record<string, unknown> {
    return {
      correlation_id: this.id.correlationId,
      runbook: this.id.runbook,
      node_id: this.status.target?.node_id,
      host_name: this.status.target?.host_name,
      host_role: this.status.target?.host_role,
      phase: this.status.phase,
      step: this.status.current_step,
    };
  }

  private lastStep(name: string): StepRecord | undefined {
    for (let i = this.status.steps.length - 1; i >= 0; i--) if (this.status.steps[i]!.name === name) return this.status.steps[i];
    return undefined;
  }

  private begin(name: string): StepRecord {
    const attempt = (this.attempts.get(name) ?? 0) + 1;
    this.attempts.set(name, attempt);
    const record: StepRecord = {
      seq: this.status.steps.length + 1,
      name,
      phase: this.status.phase,
      status: 'running',
      attempt,
      started_at: new Date().toISOString(),
    };
    this.status.steps.push(record);
    this.status.current_step = name;
    return record;
  }

  private async end(record: StepRecord, status: StepRecord['status'], ctx: StepContext): Promise<void> {
    record.status = status;
    record.ended_at = new Date().toISOString();
    if (this.status.current_step === record.name) this.status.current_step = null;
    await engine.recordStep(ctx, { ...record });
  }

  private onApproval(d: ApprovalDecision): void {
    const pending = this.status.pending_approval;
    if (!pending || this.decision) {
      log.warn('approval ignored: nothing pending', { ...this.logFields(), actor: d.actor });
      return;
    }
    if (d.approval_id && d.approval_id !== pending.id) {
      log.warn('approval ignored: it was for another request', { ...this.logFields(), actor: d.actor, approval_id: d.approval_id });
      return;
    }
    this.decision = d;
  }
}

function requesterOf(memo: Record<string, unknown> | undefined): string | null {
  const who = memo?.[MEMO_REQUESTED_BY];
  return typeof who === 'string' ? who : null;
}

export interface RunbookResult {
  outcome: string;
  summary: string;
}

/**
 * Runs a runbook body with the shared lifecycle: records the run, and on failure
 * or cancellation runs the compensations (not cancellable), records the outcome,
 * and ends the workflow failed (with the typed error) or cancelled.
 */
export async function runRunbook(run: RunbookRun, input: unknown, body: (run: RunbookRun) => Promise<RunbookResult>): Promise<RunReport> {
  await run.start(input);
  try {
    const result = await body(run);
    return await run.finish(result.outcome, result.summary, 'completed');
  } catch (err) {
    if (isCancellation(err)) {
      await CancellationScope.nonCancellable(async () => {
        await run.compensate();
        await run.runAbortHooks();
        const who = run.cancelRequest ? ` by ${run.cancelRequest.actor}: ${run.cancelRequest.reason}` : '';
        await run.finish('cancelled', `cancelled${who}`, 'cancelled');
      });
      throw err;
    }
    const failure = failureOf(err);
    await CancellationScope.nonCancellable(async () => {
      await run.compensate();
      await run.runAbortHooks();
      run.phase('escalate');
      await run.finish('failed', `${failure.type}: ${failure.message}`, 'failed');
    });
    throw ApplicationFailure.create({ type: failure.type, message: failure.message, nonRetryable: true, cause: err instanceof Error ? err : undefined });
  }
}
