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
  patched,
  proxyActivities,
  setCurrentDetails,
} from '@temporalio/workflow';
import type { ApprovalActivities } from '../capabilities/approvals/approval-activities';
import type { EngineActivities } from '../capabilities/evidence/engine-activities';
import type { HostRole } from '../domain/host-roles';
import { approvalSignal, approvalUpdate, cancelRequestSignal, statusQuery } from '../domain/messages';
import {
  approvalProgress,
  refusalOf,
  tally,
  type ApprovalChannel,
  type ApprovalKind,
  type ApprovalRefusal,
  type ApprovalState,
  type ApprovalVote,
} from '../domain/approvals';
import type {
  ApprovalAnswer,
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
import { ActivityOptionSets, BOOKKEEPING_OPTIONS } from './activity-options';
import { failureOf } from './failures';

const engine = proxyLocalActivities<EngineActivities>(BOOKKEEPING_OPTIONS);
const approvals = proxyLocalActivities<ApprovalActivities>(BOOKKEEPING_OPTIONS);
const notifier = proxyActivities<ApprovalActivities>(ActivityOptionSets.platformCall);

/** Runs that ask for approvals under the rules: update path, two-person rule, minimum approvers, escalation. */
export const APPROVAL_RULES_PATCH = 'approval-rules';

export interface ApprovalOptions {
  /** What approving lets the run do; decides how many approvers it needs. Default `generic`. */
  kind?: ApprovalKind;
  /** What approving will disrupt, shown to the approver. */
  disruption?: string;
  /** Notify this group's webhook after `after_ms` without a decision (before the final timeout). */
  escalation?: { after_ms: number; group: string };
}

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
  private legacyDecision: ApprovalDecision | undefined;
  /** Approval signals not yet checked; the approval wait takes them in order. */
  private readonly signalInbox: ApprovalDecision[] = [];
  private refusedSignals = 0;
  private rulesApply: boolean | undefined;
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
    setHandler(approvalSignal, (d) => this.onApprovalSignal(d));
    setHandler(approvalUpdate, (d) => this.onApprovalUpdate(d), { validator: (d) => this.validateApprovalUpdate(d) });
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
      // The target, once a pre-check resolved it (a run may learn its node from the platform).
      node_id: this.status.target?.node_id ?? this.id.nodeId,
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
    setCurrentDetails(
      blocked
        ? `**Waiting for a disruption slot** in ${blocked.scope} (cap ${blocked.cap}), since ${blocked.since}\n\nheld by: ${blocked.holders.join(', ') || 'nobody yet'}; ${blocked.waiting} waiting`
        : '',
    );
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
   * Waits for the approvers' decision or the timeout. Decisions arrive as the
   * API's update (validated before it is accepted) or as a signal (checked here,
   * refused ones recorded as evidence); both go through the same rules
   * (domain/approvals.ts). The outcome is recorded in the step history and as evidence.
   */
  async approval(name: string, question: string, context: Record<string, unknown>, timeoutMs: number, opts: ApprovalOptions = {}): Promise<ApprovalRecord> {
    if (!this.approvalRules()) return this.legacyApproval(name, question, context, timeoutMs);
    await this.writeQueuedEvidence();
    const record = this.begin(name);
    const ctx = this.context(name, record.seq);
    const kind = opts.kind ?? 'generic';
    const shown = {
      kind,
      question,
      context,
      ...(this.status.plan ? { plan_hash: this.status.plan.plan_hash } : {}),
      ...(opts.disruption ? { disruption: opts.disruption } : {}),
    };
    const drill = this.id.runMode === 'drill';
    const prepared = await approvals.prepareApproval(ctx, shown, drill);
    const now = Date.now();
    const requester = this.status.requested_by;
    const request: ApprovalRequest = {
      id: `${record.seq}-${name}`,
      step: name,
      ...shown,
      requested_at: new Date(now).toISOString(),
      timeout_at: new Date(now + timeoutMs).toISOString(),
      min_approvals: prepared.min_approvals,
      approvals: [],
      forbidden_approvers: requester ? [requester] : [],
      ...(drill && requester?.startsWith('drill:') ? { scripted_answerer: requester } : {}),
      shown_hash: prepared.shown_hash,
      ...(opts.escalation && opts.escalation.after_ms < timeoutMs
        ? { escalation: { group: opts.escalation.group, escalate_at: new Date(now + opts.escalation.after_ms).toISOString(), notified_at: null } }
        : {}),
    };
    this.status.pending_approval = request;
    upsertSearchAttributes([{ key: SA.AwaitingApproval, value: true }]);
    this.showWaiting(request);
    log.info('awaiting approval', { ...this.logFields(), approval_id: request.id, kind, min_approvals: request.min_approvals, question });

    const deadline = now + timeoutMs;
    let state: ApprovalState = 'pending';
    try {
      for (;;) {
        state = tally(request);
        if (state !== 'pending') break;
        const escalateAt = request.escalation && !request.escalation.notified_at ? Date.parse(request.escalation.escalate_at) : Infinity;
        const wakeAt = Math.min(deadline, escalateAt);
        if (Date.now() >= deadline) break;
        if (Date.now() >= escalateAt) {
          await this.escalate(ctx, request);
          continue;
        }
        // Wakes only once the deciding update has answered: its completion then precedes this
        // run's next commands in the history on every replay, whatever its handler's interceptors await.
        await condition(() => (this.signalInbox.length > 0 || tally(request) !== 'pending') && allHandlersFinished(), wakeAt - Date.now());
        while (this.signalInbox.length > 0 && tally(request) === 'pending') await this.takeSignal(ctx, request, this.signalInbox.shift()!);
      }
      await condition(allHandlersFinished);
    } catch (err) {
      // Cancelled while waiting: close the request so the run no longer shows as
      // waiting on a human, and record how the step ended.
      await CancellationScope.nonCancellable(async () => {
        this.closeRequest();
        record.error = failureOf(err);
        record.detail = 'cancelled while waiting for a decision';
        await this.end(record, 'failed', ctx);
      });
      throw err;
    }
    // Signals that arrived after the decision (or the timeout) do not carry over to a later request.
    for (const late of this.signalInbox.splice(0)) {
      await this.refusedSignal(ctx, late, refusalOf(request, late) ?? { code: 'no_pending_approval', message: 'it arrived after the approval timed out' });
    }
    // Who decided: every approver, or whoever rejected (the other votes stay in `approvals`).
    const votes = state === 'rejected' ? request.approvals.filter((v) => v.decision === 'reject') : request.approvals;
    const result: ApprovalRecord =
      state === 'pending'
        ? { ...request, decision: 'timeout', decided_at: new Date().toISOString() }
        : {
            ...request,
            decision: state === 'approved' ? 'approve' : 'reject',
            actor: votes.map((v) => v.actor).join(', '),
            reason: votes.map((v) => v.reason).join('; '),
            decided_at: votes[votes.length - 1]!.decided_at,
          };
    this.closeRequest();
    this.status.approvals.push(result);
    record.detail =
      result.decision === 'timeout'
        ? `no decision before the timeout (${approvalProgress(request)})`
        : `${result.decision} by ${result.actor}: ${result.reason}`;
    await this.writeQueuedEvidence();
    await this.evidence(ctx, 'decision', `${name}: ${record.detail}`, result);
    await this.end(record, 'completed', ctx);
    return result;
  }

  /** Runs that asked for an approval before the approval rules: one decision, by signal. */
  private async legacyApproval(name: string, question: string, context: Record<string, unknown>, timeoutMs: number): Promise<ApprovalRecord> {
    const record = this.begin(name);
    const now = Date.now();
    const request: ApprovalRequest = {
      id: `${record.seq}-${name}`,
      step: name,
      kind: 'generic',
      question,
      requested_at: new Date(now).toISOString(),
      timeout_at: new Date(now + timeoutMs).toISOString(),
      context,
      ...(this.status.plan ? { plan_hash: this.status.plan.plan_hash } : {}),
      min_approvals: 1,
      approvals: [],
      forbidden_approvers: [],
      shown_hash: '',
      legacy: true,
    };
    this.legacyDecision = undefined;
    this.status.pending_approval = request;
    upsertSearchAttributes([{ key: SA.AwaitingApproval, value: true }]);
    log.info('awaiting approval', { ...this.logFields(), approval_id: request.id, question });

    let decided: boolean;
    try {
      decided = await condition(() => this.legacyDecision !== undefined, timeoutMs);
    } catch (err) {
      await CancellationScope.nonCancellable(async () => {
        this.closeRequest();
        record.error = failureOf(err);
        record.detail = 'cancelled while waiting for a decision';
        await this.end(record, 'failed', this.context(name, record.seq));
      });
      throw err;
    }
    // Set by the signal handler while we waited; TS cannot see that.
    const d = this.legacyDecision as ApprovalDecision | undefined;
    const result: ApprovalRecord =
      decided && d
        ? { ...request, decision: d.decision, actor: d.actor, reason: d.reason, decided_at: new Date().toISOString() }
        : { ...request, decision: 'timeout', decided_at: new Date().toISOString() };
    this.closeRequest();
    this.status.approvals.push(result);
    record.detail = result.decision === 'timeout' ? 'no decision before the timeout' : `${result.decision} by ${result.actor}: ${result.reason}`;
    const ctx = this.context(name, record.seq);
    await this.evidence(ctx, 'decision', `${name}: ${record.detail}`, result);
    await this.end(record, 'completed', ctx);
    return result;
  }

  /** Whether this run applies the approval rules (every run started after they were released). */
  private approvalRules(): boolean {
    this.rulesApply ??= patched(APPROVAL_RULES_PATCH);
    return this.rulesApply;
  }

  private closeRequest(): void {
    this.status.pending_approval = null;
    upsertSearchAttributes([{ key: SA.AwaitingApproval, value: false }]);
    setCurrentDetails('');
  }

  /** The Temporal UI's "current details": what the run waits for, from whom, until when. */
  private showWaiting(request: ApprovalRequest): void {
    const target = this.status.target?.host_name ?? this.status.target?.node_id;
    const escalation = request.escalation ? `; escalates to ${request.escalation.group} at ${request.escalation.escalate_at}` : '';
    setCurrentDetails(
      [
        `**Waiting for ${request.min_approvals} approval${request.min_approvals > 1 ? 's' : ''}** (${request.kind}${target ? ` on ${target}` : ''})`,
        request.question,
        `${approvalProgress(request)}; times out at ${request.timeout_at}${escalation}`,
        request.forbidden_approvers.length ? `not by: ${request.forbidden_approvers.join(', ')} (requester)` : '',
      ]
        .filter(Boolean)
        .join('\n\n'),
    );
  }

  /** Records one allowed decision; the caller has checked the rules. */
  private vote(request: ApprovalRequest, d: ApprovalDecision, via: ApprovalChannel): ApprovalAnswer {
    const vote: ApprovalVote = {
      actor: d.actor.trim(),
      decision: d.decision,
      reason: d.reason,
      decided_at: new Date().toISOString(),
      shown_hash: request.shown_hash,
      via,
    };
    request.approvals.push(vote);
    const state = tally(request);
    log.info(`approval ${d.decision} by ${vote.actor}`, { ...this.logFields(), approval_id: request.id, via, progress: approvalProgress(request), state });
    if (state === 'pending') this.showWaiting(request);
    return {
      approval_id: request.id,
      decision: vote.decision,
      actor: vote.actor,
      recorded_at: vote.decided_at,
      state,
      min_approvals: request.min_approvals,
      approvals: [...request.approvals],
    };
  }

  /** A signal counts only after its actor is checked; a refused one is evidence and changes nothing. */
  private async takeSignal(ctx: StepContext, request: ApprovalRequest, d: ApprovalDecision): Promise<void> {
    let refusal = refusalOf(request, d);
    if (!refusal) refusal = await approvals.checkSignalApprover(ctx, String(d.actor));
    // An update may have decided while the actor was checked.
    refusal ??= refusalOf(request, d);
    if (refusal) {
      await this.refusedSignal(ctx, d, refusal);
      return;
    }
    this.vote(request, d, 'signal');
  }

  private async refusedSignal(ctx: StepContext, d: Partial<ApprovalDecision>, refusal: ApprovalRefusal): Promise<void> {
    log.warn(`approval signal refused: ${refusal.message}`, { ...this.logFields(), actor: d.actor, code: refusal.code });
    this.refusedSignals += 1;
    await this.evidence(
      ctx,
      'decision',
      `refused approval signal from ${d.actor ?? '(no actor)'}: ${refusal.message}`,
      { refused: refusal, signal: d },
      `refused-${this.refusedSignals}`,
    );
  }

  /** Tells the approval's escalation group it is still waiting; a failed notice is recorded, the wait goes on. */
  private async escalate(ctx: StepContext, request: ApprovalRequest): Promise<void> {
    const escalation = request.escalation!;
    escalation.notified_at = new Date().toISOString();
    const notice = {
      group: escalation.group,
      workflow_id: this.status.workflow_id,
      runbook: this.id.runbook,
      approval_id: request.id,
      question: request.question,
      requested_at: request.requested_at,
      timeout_at: request.timeout_at,
      progress: approvalProgress(request),
    };
    try {
      await notifier.notifyApprovalEscalation({ ...ctx, idempotency_key: `${ctx.idempotency_key}/escalation` }, notice);
      await this.evidence(ctx, 'note', `approval ${request.id} escalated to ${escalation.group}`, notice, 'escalation');
    } catch (err) {
      if (isCancellation(err)) throw err;
      await this.evidence(ctx, 'note', `escalation to ${escalation.group} failed: ${failureOf(err).message}`, notice, 'escalation');
    }
    this.showWaiting(request);
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

  private onApprovalSignal(d: ApprovalDecision): void {
    if (this.approvalRules()) {
      if (this.status.pending_approval) {
        this.signalInbox.push(d);
        return;
      }
      // Nothing to decide: refused now, so the signal cannot land on a later request.
      const refusal = refusalOf(null, d)!;
      log.warn(`approval signal refused: ${refusal.message}`, { ...this.logFields(), actor: d?.actor, code: refusal.code });
      this.queueEvidence('approval_signal', 'decision', `refused approval signal from ${d?.actor ?? '(no actor)'}: ${refusal.message}`, {
        refused: refusal,
        signal: d,
      });
      return;
    }
    const pending = this.status.pending_approval;
    if (!pending || this.legacyDecision) {
      log.warn('approval ignored: nothing pending', { ...this.logFields(), actor: d.actor });
      return;
    }
    if (d.approval_id && d.approval_id !== pending.id) {
      log.warn('approval ignored: it was for another request', { ...this.logFields(), actor: d.actor, approval_id: d.approval_id });
      return;
    }
    this.legacyDecision = d;
  }

  /** The update's validator: refuses before anything is accepted into the history. */
  private validateApprovalUpdate(d: ApprovalDecision): void {
    const pending = this.status.pending_approval;
    if (pending?.legacy)
      throw refusedUpdate({ code: 'no_pending_approval', message: 'this run predates update approvals; decide it with the approval signal' });
    const refusal = refusalOf(pending, d);
    if (refusal) throw refusedUpdate(refusal);
  }

  private onApprovalUpdate(d: ApprovalDecision): ApprovalAnswer {
    // Re-checked: another update accepted in the same task may have decided it.
    this.validateApprovalUpdate(d);
    return this.vote(this.status.pending_approval!, d, 'update');
  }
}

/** A refused update answers with the rule's code as the failure type, so the API can map it. */
function refusedUpdate(r: ApprovalRefusal): ApplicationFailure {
  return ApplicationFailure.create({ type: r.code, message: r.message, nonRetryable: true, details: [r] });
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
