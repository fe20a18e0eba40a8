/**
 * The shared step runner (workflows/runbook/runner.ts) driven by small fixture
 * runbooks (fixtures/runner-workflows.ts) on the real Temporal server, with the
 * real engine activities writing runs, steps and evidence to the real
 * PostgreSQL. Only the outside world is faked: `touch` / `failWith` record
 * their calls in `calls`, in this process.
 */
import type { WorkflowHandle, WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { createEngineActivities } from '../../capabilities/evidence/engine-activities';
import { createApprovalActivities } from '../../capabilities/approvals/approval-activities';
import { testDirectory } from '../support/principals';
import { EvidenceStore } from '../../capabilities/evidence/evidence-store';
import { PlanStore } from '../../capabilities/evidence/plan-store';
import { approvalSignal, cancelRequestSignal, statusQuery } from '../../domain/messages';
import type { ApprovalDecision, RunReport, RunStatus } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../support/harness';
import { createFixtureActivities, type FixtureCall } from './fixtures/runner-activities';
import type { ApprovalInput, CompensateInput } from './fixtures/runner-workflows';

const RUNBOOK = 'runner-fixture';
const APPROVAL = 'approve_fixture';

let stack: Stack;
/** What the main tests saw, for the known-bug checks at the end of the file. */
const observed: {
  compensatedStepRows?: Awaited<ReturnType<typeof stepRows>>;
  cancelled?: { report: RunReport; status: RunStatus; awaitingApproval: boolean | undefined; rows: Awaited<ReturnType<typeof stepRows>> };
} = {};
let bundle: WorkflowBundleWithSourceMap;
const calls: FixtureCall[] = [];

beforeAll(async () => {
  stack = await connectStack(); // installs the Runtime first
  bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('./fixtures/runner-workflows'),
    workflowInterceptorModules: [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')],
  });
});
afterAll(async () => stack?.close());

/** Runs `body` with a worker for the fixture workflows on a fresh task queue. */
async function withWorker<T>(name: string, body: (taskQueue: string) => Promise<T>): Promise<T> {
  const taskQueue = uniqueTaskQueue(`runner-${name}`);
  const worker = await Worker.create({
    connection: stack.nativeConnection,
    namespace: 'default',
    taskQueue,
    workflowBundle: bundle,
    activities: {
      ...createEngineActivities({ evidence: new EvidenceStore(stack.pool), plans: new PlanStore(stack.pool) }),
      ...createApprovalActivities({ signals: true, minApprovals: {}, escalationWebhooks: {}, principals: testDirectory }),
      ...createFixtureActivities(calls),
    },
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(stack.tracing.spanProcessor, stack.tracing.resource) },
  });
  return worker.runUntil(body(taskQueue));
}

function start(taskQueue: string, workflow: string, test: string, input: object = {}): Promise<WorkflowHandleWithFirstExecutionRunId> {
  const workflowId = `runner-fixture/${test}/${Date.now()}`;
  return stack.client.workflow.start(workflow, {
    taskQueue,
    workflowId,
    args: [{ correlation_id: `corr-${test}-${Date.now()}`, ...input }],
    workflowIdConflictPolicy: 'FAIL',
  });
}

/** Fixture calls made by one workflow, as `activity:name@step`. */
function callsOf(workflowId: string): string[] {
  return calls.filter((c) => c.workflow_id === workflowId).map((c) => `${c.activity}:${c.name}@${c.step}`);
}

async function runRow(workflowId: string) {
  const res = await stack.pool.query(`SELECT * FROM runbook_runs WHERE workflow_id = $1`, [workflowId]);
  expect(res.rows).toHaveLength(1);
  return res.rows[0] as {
    runbook: string;
    run_mode: string;
    correlation_id: string;
    status: string;
    outcome: string | null;
    report: RunReport;
    input: unknown;
    ended_at: Date | null;
  };
}

async function stepRows(workflowId: string) {
  const res = await stack.pool.query(`SELECT seq, name, phase, status, error, detail FROM runbook_steps WHERE workflow_id = $1 ORDER BY seq`, [workflowId]);
  return res.rows as { seq: number; name: string; phase: string; status: string; error: { type: string; message: string } | null; detail: string | null }[];
}

async function decisionEvidence(workflowId: string) {
  const res = await stack.pool.query(`SELECT kind, summary, data FROM evidence WHERE workflow_id = $1 AND kind = 'decision' ORDER BY id`, [workflowId]);
  return res.rows as { kind: string; summary: string; data: Record<string, unknown> }[];
}

function waitForStatus(handle: WorkflowHandle, what: string, ok: (s: RunStatus) => boolean): Promise<RunStatus> {
  return eventually(async () => {
    const s = await handle.query(statusQuery);
    return ok(s) ? s : undefined;
  }, what);
}

const waitForApproval = (handle: WorkflowHandle) => waitForStatus(handle, `pending ${APPROVAL}`, (s) => s.pending_approval?.step === APPROVAL);

function failureOf(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error('expected the workflow to fail');
    },
    (e: unknown) => e,
  );
}

function stepSummary(steps: RunReport['steps']) {
  return steps.map((s) => ({ seq: s.seq, name: s.name, phase: s.phase, status: s.status, error_type: s.error?.type ?? null }));
}

/** The timers the workflow really armed, in ms, from its Temporal history. */
async function timersInHistory(handle: WorkflowHandle): Promise<number[]> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).flatMap((e) => {
    const d = e.timerStartedEventAttributes?.startToFireTimeout;
    return d ? [Number(d.seconds ?? 0) * 1000 + Math.round((d.nanos ?? 0) / 1e6)] : [];
  });
}

async function approvalSignalsInHistory(handle: WorkflowHandle): Promise<number> {
  const history = await handle.fetchHistory();
  return (history.events ?? []).filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'approval').length;
}

test('happy path: three steps complete in their phases; run and steps recorded in PostgreSQL', async () => {
  const { handle, report, status } = await withWorker('happy', async (tq) => {
    const handle = await start(tq, 'runnerHappy', 'happy');
    const report: RunReport = await handle.result();
    const status = await handle.query(statusQuery);
    return { handle, report, status };
  });
  const wid = handle.workflowId;

  expect(report.outcome).toBe('fixture_ok');
  expect(report.summary).toBe('three steps done');
  expect(report.runbook).toBe(RUNBOOK);
  expect(report.workflow_id).toBe(wid);
  expect(report.steps.map((s) => ({ seq: s.seq, name: s.name, phase: s.phase, status: s.status, detail: s.detail, attempt: s.attempt }))).toEqual([
    { seq: 1, name: 'check_a', phase: 'pre_checks', status: 'completed', detail: 'touched a', attempt: 1 },
    { seq: 2, name: 'do_b', phase: 'procedure', status: 'completed', detail: 'touched b', attempt: 1 },
    { seq: 3, name: 'verify_c', phase: 'verify', status: 'completed', detail: 'touched c', attempt: 1 },
  ]);
  expect(report.steps.every((s) => s.ended_at && s.ended_at >= s.started_at)).toBe(true);
  expect(report.approvals).toEqual([]);

  expect(status).toMatchObject({ phase: 'done', current_step: null, outcome: 'fixture_ok', pending_approval: null, run_mode: 'drill' });

  expect(callsOf(wid)).toEqual(['touch:a@check_a', 'touch:b@do_b', 'touch:c@verify_c']);
  const keys = calls.filter((c) => c.workflow_id === wid).map((c) => c.idempotency_key);
  expect(keys).toEqual([
    `${wid}/${handle.firstExecutionRunId}/1-check_a`,
    `${wid}/${handle.firstExecutionRunId}/2-do_b`,
    `${wid}/${handle.firstExecutionRunId}/3-verify_c`,
  ]);

  const run = await runRow(wid);
  expect(run).toMatchObject({ runbook: RUNBOOK, run_mode: 'drill', status: 'completed', outcome: 'fixture_ok' });
  expect(run.correlation_id).toMatch(/^corr-happy-/);
  expect(run.ended_at).toBeInstanceOf(Date);
  expect(run.report.outcome).toBe('fixture_ok');
  expect(run.report.steps).toHaveLength(3);

  expect(await stepRows(wid)).toEqual([
    { seq: 1, name: 'check_a', phase: 'pre_checks', status: 'completed', error: null, detail: 'touched a' },
    { seq: 2, name: 'do_b', phase: 'procedure', status: 'completed', error: null, detail: 'touched b' },
    { seq: 3, name: 'verify_c', phase: 'verify', status: 'completed', error: null, detail: 'touched c' },
  ]);
});

test('failure: undos run newest first, steps marked compensated/failed, workflow fails with the typed error', async () => {
  const input: Partial<CompensateInput> = { fail_type: 'FixtureBoom' };
  const { handle, err, status } = await withWorker('compensate', async (tq) => {
    const handle = await start(tq, 'runnerCompensate', 'compensate', input);
    const err = await failureOf(handle.result());
    const status = await handle.query(statusQuery);
    return { handle, err, status };
  });
  const wid = handle.workflowId;

  expect(err).toBeInstanceOf(WorkflowFailedError);
  const cause = (err as WorkflowFailedError).cause;
  expect(cause).toBeInstanceOf(ApplicationFailure);
  expect((cause as ApplicationFailure).type).toBe('FixtureBoom');
  expect((cause as ApplicationFailure).message).toBe('fixture failure FixtureBoom in step_c');
  expect((cause as ApplicationFailure).nonRetryable).toBe(true);

  expect(callsOf(wid)).toEqual([
    'touch:a@step_a',
    'touch:b@step_b',
    'failWith:FixtureBoom@step_c',
    'touch:undo-step_b@undo_step_b',
    'touch:undo-step_a@undo_step_a',
  ]);

  const expectedSteps = [
    { seq: 1, name: 'step_a', phase: 'procedure', status: 'compensated', error_type: null },
    { seq: 2, name: 'step_b', phase: 'procedure', status: 'compensated', error_type: null },
    { seq: 3, name: 'step_c', phase: 'procedure', status: 'failed', error_type: 'FixtureBoom' },
  ];
  expect(stepSummary(status.steps)).toEqual(expectedSteps);
  expect(status).toMatchObject({ phase: 'done', outcome: 'failed', current_step: null });
  expect(status.steps[2]!.error).toEqual({ type: 'FixtureBoom', message: 'fixture failure FixtureBoom in step_c' });

  const run = await runRow(wid);
  expect(run.status).toBe('failed');
  expect(run.outcome).toBe('failed');
  expect(run.report.summary).toBe('FixtureBoom: fixture failure FixtureBoom in step_c');
  expect(stepSummary(run.report.steps)).toEqual(expectedSteps);

  const rows = await stepRows(wid);
  expect(rows.map((r) => r.name)).toEqual(['step_a', 'step_b', 'step_c']);
  expect(rows[2]).toMatchObject({ status: 'failed', error: { type: 'FixtureBoom', message: 'fixture failure FixtureBoom in step_c' } });
  observed.compensatedStepRows = rows;
});

test('a failing undo is marked compensation_failed and the older undos still run', async () => {
  const input: Partial<CompensateInput> = { fail_type: 'FixtureBoom', failing_undo_b: 'UndoBroke' };
  const { handle, err } = await withWorker('undo-fails', async (tq) => {
    const handle = await start(tq, 'runnerCompensate', 'undo-fails', input);
    return { handle, err: await failureOf(handle.result()) };
  });
  const wid = handle.workflowId;

  // The run fails with the step's error, not the undo's.
  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('FixtureBoom');
  expect(callsOf(wid)).toEqual([
    'touch:a@step_a',
    'touch:b@step_b',
    'failWith:FixtureBoom@step_c',
    'failWith:UndoBroke@undo_step_b',
    'touch:undo-step_a@undo_step_a',
  ]);
  const run = await runRow(wid);
  expect(run.status).toBe('failed');
  expect(stepSummary(run.report.steps)).toEqual([
    { seq: 1, name: 'step_a', phase: 'procedure', status: 'compensated', error_type: null },
    { seq: 2, name: 'step_b', phase: 'procedure', status: 'compensation_failed', error_type: 'UndoBroke' },
    { seq: 3, name: 'step_c', phase: 'procedure', status: 'failed', error_type: 'FixtureBoom' },
  ]);
});

test('dropRollback: an undo dropped after success is not run on a later failure', async () => {
  const input: Partial<CompensateInput> = { fail_type: 'FixtureBoom', drop_a: true };
  const { handle, err } = await withWorker('drop', async (tq) => {
    const handle = await start(tq, 'runnerCompensate', 'drop', input);
    return { handle, err: await failureOf(handle.result()) };
  });
  const wid = handle.workflowId;

  expect(((err as WorkflowFailedError).cause as ApplicationFailure).type).toBe('FixtureBoom');
  expect(callsOf(wid)).toEqual([
    'touch:a@step_a',
    'touch:b@step_b',
    'touch:restore-a@restore_a',
    'failWith:FixtureBoom@step_c',
    'touch:undo-step_b@undo_step_b',
  ]);
  const run = await runRow(wid);
  expect(run.status).toBe('failed');
  expect(stepSummary(run.report.steps)).toEqual([
    { seq: 1, name: 'step_a', phase: 'procedure', status: 'completed', error_type: null },
    { seq: 2, name: 'step_b', phase: 'procedure', status: 'compensated', error_type: null },
    { seq: 3, name: 'restore_a', phase: 'procedure', status: 'completed', error_type: null },
    { seq: 4, name: 'step_c', phase: 'procedure', status: 'failed', error_type: 'FixtureBoom' },
  ]);
});

test('cancellation while waiting for an approval: undo runs, workflow ends CANCELLED, run recorded cancelled with the actor', async () => {
  const input: Partial<ApprovalInput> = { timeout_ms: 10 * 60_000 };
  const { handle, err, description, finalStatus } = await withWorker('cancel', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'cancel', input);
    await waitForApproval(handle);
    await handle.signal(cancelRequestSignal, { actor: 'sre-cancel', reason: 'maintenance window closed' });
    await handle.cancel();
    const err = await failureOf(handle.result());
    return { handle, err, description: await handle.describe(), finalStatus: await handle.query(statusQuery) };
  });
  const wid = handle.workflowId;

  expect(err).toBeInstanceOf(WorkflowFailedError);
  expect((err as WorkflowFailedError).cause).toBeInstanceOf(CancelledFailure);
  expect(description.status.name).toBe('CANCELLED');

  expect(callsOf(wid)).toEqual(['touch:prepare@prepare', 'touch:undo-prepare@undo_prepare']);

  const run = await runRow(wid);
  expect(run.status).toBe('cancelled');
  expect(run.outcome).toBe('cancelled');
  expect(run.report.summary).toBe('cancelled by sre-cancel: maintenance window closed');
  expect(run.report.steps.find((s) => s.name === 'prepare')?.status).toBe('compensated');
  expect(run.report.approvals).toEqual([]);
  expect(await decisionEvidence(wid)).toEqual([]);
  observed.cancelled = {
    report: run.report,
    status: finalStatus,
    awaitingApproval: description.typedSearchAttributes.get(SA.AwaitingApproval),
    rows: await stepRows(wid),
  };
});

test('approval by signal: decision, actor and reason in status.approvals and in a decision evidence row', async () => {
  const input: Partial<ApprovalInput> = { timeout_ms: 10 * 60_000, hold_after: true };
  const { handle, report, decided } = await withWorker('approve', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'approve', input);
    const waiting = await waitForApproval(handle);
    const decision: ApprovalDecision = { decision: 'approve', actor: 'sre-oncall', reason: 'looks right', approval_id: waiting.pending_approval!.id };
    await handle.signal(approvalSignal, decision);
    const decided = await waitForStatus(handle, 'hold after the decision', (s) => s.current_step === 'hold');
    await handle.signal('release');
    return { handle, report: (await handle.result()) as RunReport, decided };
  });
  const wid = handle.workflowId;

  expect(decided.pending_approval).toBeNull();
  expect(decided.current_step).toBe('hold');
  expect(decided.approvals).toEqual([
    expect.objectContaining({
      id: `2-${APPROVAL}`,
      step: APPROVAL,
      question: 'Proceed with the fixture?',
      decision: 'approve',
      actor: 'sre-oncall',
      reason: 'looks right',
    }),
  ]);
  expect(decided.steps.find((s) => s.name === APPROVAL)).toMatchObject({
    status: 'completed',
    detail: 'approve by sre-oncall: looks right',
    phase: 'procedure',
  });

  expect(report.outcome).toBe('decision_approve');
  expect(report.summary).toBe('approve by sre-oncall');
  expect(report.approvals).toHaveLength(1);
  expect(report.evidence_refs).toHaveLength(1);
  expect(report.evidence_refs[0]).toMatch(/^evidence:\d+$/);
  expect(callsOf(wid)).toEqual(['touch:prepare@prepare', 'touch:after-approve@after_approval']);

  const evidence = await decisionEvidence(wid);
  expect(evidence).toHaveLength(1);
  expect(evidence[0]!.summary).toBe(`${APPROVAL}: approve by sre-oncall: looks right`);
  expect(evidence[0]!.data).toMatchObject({ step: APPROVAL, decision: 'approve', actor: 'sre-oncall', reason: 'looks right', id: `2-${APPROVAL}` });

  const run = await runRow(wid);
  expect(run).toMatchObject({ status: 'completed', outcome: 'decision_approve' });
  expect((await stepRows(wid)).find((r) => r.name === APPROVAL)).toMatchObject({ status: 'completed', detail: 'approve by sre-oncall: looks right' });
});

test('approval signals with nothing pending, or for another approval_id, change nothing and are recorded as refused', async () => {
  const input: Partial<ApprovalInput> = { timeout_ms: 10 * 60_000, gate_before: true };
  const { handle, report, beforeGate, afterEarly, afterGo, afterBogus, signals } = await withWorker('ignored', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'ignored', input);
    const beforeGate = await waitForStatus(handle, 'wait_for_go', (s) => s.current_step === 'wait_for_go');

    // Nothing is pending yet: ignored, and not remembered for the approval that comes later.
    await handle.signal(approvalSignal, { decision: 'approve', actor: 'early-bird', reason: 'too soon' });
    const afterEarly = await handle.query(statusQuery);
    await handle.signal('go');
    await waitForApproval(handle);
    await new Promise((r) => setTimeout(r, 500));
    const afterGo = await handle.query(statusQuery);

    // A stale approval for another request: ignored.
    await handle.signal(approvalSignal, { decision: 'approve', actor: 'stale', reason: 'old request', approval_id: '1-some_other_step' });
    await new Promise((r) => setTimeout(r, 500));
    const afterBogus = await handle.query(statusQuery);

    await handle.signal(approvalSignal, { decision: 'reject', actor: 'sre-reject', reason: 'not now', approval_id: afterGo.pending_approval!.id });
    const report: RunReport = await handle.result();
    return { handle, report, beforeGate, afterEarly, afterGo, afterBogus, signals: await approvalSignalsInHistory(handle) };
  });

  // All three signals reached the workflow.
  expect(signals).toBe(3);

  expect(afterEarly.pending_approval).toBeNull();
  expect(afterEarly.approvals).toEqual([]);
  expect(afterEarly.current_step).toBe('wait_for_go');
  expect(afterEarly.steps).toEqual(beforeGate.steps);

  expect(afterGo.pending_approval).toMatchObject({ id: `3-${APPROVAL}`, step: APPROVAL });
  expect(afterGo.approvals).toEqual([]);
  expect(afterGo.current_step).toBe(APPROVAL);

  expect(afterBogus.pending_approval).toEqual(afterGo.pending_approval);
  expect(afterBogus.approvals).toEqual([]);
  expect(afterBogus.steps).toEqual(afterGo.steps);

  expect(report.outcome).toBe('decision_reject');
  expect(report.approvals).toEqual([expect.objectContaining({ decision: 'reject', actor: 'sre-reject', reason: 'not now' })]);
  expect(callsOf(handle.workflowId)).toEqual(['touch:prepare@prepare', 'touch:after-reject@after_approval']);
  const evidence = await decisionEvidence(handle.workflowId);
  expect(evidence.filter((e) => !e.data.refused).map((e) => e.data.actor)).toEqual(['sre-reject']);
  expect(evidence.filter((e) => e.data.refused).map((e) => [(e.data.signal as { actor: string }).actor, (e.data.refused as { code: string }).code])).toEqual([
    ['early-bird', 'no_pending_approval'],
    ['stale', 'stale_approval'],
  ]);
});

test('approval timeout: decision "timeout" recorded after the timeout', async () => {
  const input: Partial<ApprovalInput> = { timeout_ms: 1_000 };
  const { handle, report } = await withWorker('timeout', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'timeout', input);
    return { handle, report: (await handle.result()) as RunReport };
  });
  const wid = handle.workflowId;

  expect(report.outcome).toBe('decision_timeout');
  expect(report.approvals).toHaveLength(1);
  const a = report.approvals[0]!;
  expect(a).toMatchObject({ step: APPROVAL, decision: 'timeout' });
  expect(a.actor).toBeUndefined();
  // The deadline is a real timer of the input's length, and the decision came when it fired.
  expect(await timersInHistory(handle)).toEqual([1_000]);
  expect(Date.parse(a.timeout_at) - Date.parse(a.requested_at)).toBe(1_000);
  expect(Date.parse(a.decided_at)).toBeGreaterThanOrEqual(Date.parse(a.timeout_at));
  expect(report.steps.find((s) => s.name === APPROVAL)).toMatchObject({ status: 'completed', detail: 'no decision before the timeout (0 of 1)' });
  expect(callsOf(wid)).toEqual(['touch:prepare@prepare', 'touch:after-timeout@after_approval']);

  const evidence = await decisionEvidence(wid);
  expect(evidence).toHaveLength(1);
  expect(evidence[0]!.data).toMatchObject({ step: APPROVAL, decision: 'timeout' });
  expect((await runRow(wid)).outcome).toBe('decision_timeout');
});

test('search attributes: AwaitingApproval and RunbookPhase are visible while waiting, cleared after the decision', async () => {
  const input: Partial<ApprovalInput> = { timeout_ms: 10 * 60_000, hold_after: true };
  const listIds = async (query: string) => {
    const ids: string[] = [];
    for await (const wf of stack.client.workflow.list({ query })) ids.push(wf.workflowId);
    return ids;
  };
  const { handle, waitingSa, listed, decidedSa, listedAfter, finalSa } = await withWorker('search-attrs', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'search-attrs', input);
    const wid = handle.workflowId;
    const waiting = await waitForApproval(handle);

    const listed = await eventually(async () => {
      const ids = await listIds(`AwaitingApproval = true AND Runbook = '${RUNBOOK}' AND ExecutionStatus = 'Running'`);
      return ids.includes(wid) ? ids : undefined;
    }, 'workflow listed as awaiting approval');
    const waitingSa = (await handle.describe()).typedSearchAttributes;
    expect(waitingSa.get(SA.RunbookPhase)).toBe(waiting.phase);

    await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'go', approval_id: waiting.pending_approval!.id });
    await waitForStatus(handle, 'hold', (s) => s.current_step === 'hold');
    const decidedSa = (await handle.describe()).typedSearchAttributes;
    const listedAfter = await eventually(async () => {
      const stillAwaiting = await listIds(`AwaitingApproval = true AND Runbook = '${RUNBOOK}' AND ExecutionStatus = 'Running'`);
      const notAwaiting = await listIds(`AwaitingApproval = false AND WorkflowId = '${wid}' AND ExecutionStatus = 'Running'`);
      return !stillAwaiting.includes(wid) && notAwaiting.includes(wid) ? notAwaiting : undefined;
    }, 'workflow listed as no longer awaiting approval');

    await handle.signal('release');
    await handle.result();
    return { handle, waitingSa, listed, decidedSa, listedAfter, finalSa: (await handle.describe()).typedSearchAttributes };
  });

  expect(listed).toContain(handle.workflowId);
  expect(waitingSa.get(SA.AwaitingApproval)).toBe(true);
  expect(waitingSa.get(SA.RunbookPhase)).toBe('procedure');
  expect(waitingSa.get(SA.Runbook)).toBe(RUNBOOK);
  expect(waitingSa.get(SA.RunMode)).toBe('drill');
  expect(waitingSa.get(SA.CorrelationId)).toMatch(/^corr-search-attrs-/);

  expect(decidedSa.get(SA.AwaitingApproval)).toBe(false);
  expect(decidedSa.get(SA.RunbookPhase)).toBe('procedure');
  expect(listedAfter).toEqual([handle.workflowId]);

  expect(finalSa.get(SA.RunbookPhase)).toBe('done');
  expect(finalSa.get(SA.AwaitingApproval)).toBe(false);
});

test('status query mid-run: current_step, then the pending approval with its question and timeout_at', async () => {
  const timeoutMs = 120_000;
  const input: Partial<ApprovalInput> = { timeout_ms: timeoutMs, gate_before: true };
  const { gated, pending, queriedAt, report, timers } = await withWorker('status', async (tq) => {
    const handle = await start(tq, 'runnerApproval', 'status', input);
    const gated = await waitForStatus(handle, 'wait_for_go', (s) => s.current_step === 'wait_for_go');
    await handle.signal('go');
    const pending = await waitForApproval(handle);
    const queriedAt = Date.now();
    await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'ok', approval_id: pending.pending_approval!.id });
    return { gated, pending, queriedAt, report: (await handle.result()) as RunReport, timers: await timersInHistory(handle) };
  });

  expect(gated).toMatchObject({ runbook: RUNBOOK, phase: 'pre_checks', current_step: 'wait_for_go', pending_approval: null, outcome: null });
  expect(gated.steps.map((s) => [s.seq, s.name, s.status])).toEqual([
    [1, 'prepare', 'completed'],
    [2, 'wait_for_go', 'running'],
  ]);

  expect(pending).toMatchObject({ phase: 'procedure', current_step: APPROVAL, outcome: null });
  const p = pending.pending_approval!;
  expect(p).toMatchObject({ id: `3-${APPROVAL}`, step: APPROVAL, question: 'Proceed with the fixture?', context: { fixture: true } });
  expect(Date.parse(p.timeout_at) - Date.parse(p.requested_at)).toBe(timeoutMs);
  expect(timers).toEqual([timeoutMs]);
  expect(Date.parse(p.timeout_at)).toBeGreaterThan(queriedAt);
  expect(pending.steps.map((s) => [s.seq, s.name, s.status])).toEqual([
    [1, 'prepare', 'completed'],
    [2, 'wait_for_go', 'completed'],
    [3, APPROVAL, 'running'],
  ]);
  expect(report.outcome).toBe('decision_approve');
});

/*
 * What the runs above left behind in PostgreSQL and Temporal: compensation and a
 * cancelled approval must be persisted, not only held in the workflow's memory.
 * (Both were runner bugs found by these checks.)
 */
describe('compensation and cancelled approvals are persisted', () => {
  test('compensated steps are written to runbook_steps as compensated', () => {
    expect(observed.compensatedStepRows?.map((r) => r.status)).toEqual(['compensated', 'compensated', 'failed']);
  });

  test('an approval ended by cancellation is closed: step not running, nothing pending, AwaitingApproval false', () => {
    const c = observed.cancelled!;
    expect(c.report.steps.find((s) => s.name === APPROVAL)?.status).not.toBe('running');
    expect(c.rows.map((r) => r.name)).toContain(APPROVAL);
    expect(c.status.pending_approval).toBeNull();
    expect(c.awaitingApproval).toBe(false);
  });
});
