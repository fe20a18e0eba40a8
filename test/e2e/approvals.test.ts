/**
 * Approvals under the rules: the API's update answers with what was recorded, the
 * requester cannot approve their own run, an RMA needs two distinct approvers,
 * racing decisions record exactly one, and decisions sent straight to Temporal
 * (update or signal) meet the same rules.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { approvalSignal, approvalUpdate, statusQuery } from '../../domain/messages';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { connectStack, eventually, type Stack } from '../support/harness';
import { clearAlertLedger, expectEnvelope, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-3';
const runUrl = `/api/v1/runs/${encodeURIComponent(`gpu-fault/${NODE}`)}`;

let stack: Stack;
let api: RunningApi;
let stop: (() => Promise<void>) | undefined;
/** The escalation webhook: every POST it received. */
const escalations: { headers: http.IncomingHttpHeaders; body: any }[] = [];
let webhook: http.Server;

beforeAll(async () => {
  stack = await connectStack();
  webhook = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      escalations.push({ headers: req.headers, body: JSON.parse(body) });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/hook`;
  ({ api, stop } = await startApiWithWorker(stack, 'approvals', { approvals: { escalationWebhooks: { 'hw-oncall': url } } }));
});
afterAll(async () => {
  await stop?.();
  await new Promise((resolve) => webhook?.close(resolve));
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

/** Starts a run (as admin, its requester) that stops at the RMA approval. */
async function waitingRma(extra: Record<string, unknown> = {}) {
  await stack.lab.injectXid(NODE, 6, 48, true);
  const started = await api.trigger({ node_id: NODE, xid: 48, gpu_index: 6, ...extra });
  expect(started.status).toBe(201);
  const run = await api.waitForRun(runUrl, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval');
  return { runId: started.body.run_id as string, pending: run.status.pending_approval };
}

const approve = (who: 'admin' | 'alice' | 'bob' | 'carol', body: Record<string, unknown> = {}) =>
  who === 'carol'
    ? api.call('POST', `${runUrl}/approvals`, { decision: 'approve', reason: `${who} agrees`, ...body }, { authorization: `Bearer ${carol}` })
    : api.as(who, 'POST', `${runUrl}/approvals`, { decision: 'approve', reason: `${who} agrees`, ...body });
let carol = '';

async function refusedSignalEvidence(runId: string): Promise<string[]> {
  const rows = await stack.pool.query(`SELECT summary FROM evidence WHERE run_id = $1 AND kind = 'decision' AND summary LIKE 'refused%' ORDER BY summary`, [
    runId,
  ]);
  return rows.rows.map((r) => r.summary);
}

test('an RMA needs two approvers who did not request it; a stale view, a repeat and the loser of a race are refused', async () => {
  carol = api.tokens.create('carol', ['approver'], 'third approver for the race').token;
  const { runId, pending } = await waitingRma();
  expect(pending).toMatchObject({
    kind: 'rma',
    min_approvals: 2,
    approvals: [],
    forbidden_approvers: ['admin'],
    shown_hash: expect.stringMatching(/^[0-9a-f]{64}$/),
    disruption: `${NODE} stays out of service until its GPU is replaced`,
  });

  // The requester (admin holds every role) cannot approve the run they asked for.
  expectEnvelope(await approve('admin'), 403, 'forbidden_approver');
  // An approver who saw another version of the request is told to read it again.
  expectEnvelope(await approve('alice', { shown_hash: 'f'.repeat(64) }), 409, 'approval_changed');
  expectEnvelope(await approve('alice', { approval_id: '1-approve_something_else' }), 409, 'stale_approval');

  const aliceApproves = () =>
    api.as(
      'alice',
      'POST',
      `${runUrl}/approvals`,
      { decision: 'approve', reason: 'alice agrees', approval_id: pending.id, shown_hash: pending.shown_hash },
      {
        'idempotency-key': 'alice-approves-rma',
      },
    );
  const first = await aliceApproves();
  expect(first.status).toBe(200);
  // A retry of the same request (same Idempotency-Key) gets the same answer, not a second vote or a 409.
  expect(await aliceApproves()).toMatchObject({ status: 200, body: first.body });
  expect(first.body).toMatchObject({
    workflow_id: `gpu-fault/${NODE}`,
    run_id: runId,
    approval_id: pending.id,
    decision: 'approve',
    actor: 'alice',
    state: 'pending',
    min_approvals: 2,
    approvals: [{ actor: 'alice', decision: 'approve', reason: 'alice agrees', shown_hash: pending.shown_hash, via: 'update' }],
  });
  // Partial approvals show who has approved so far.
  const partial = await api.call('GET', runUrl);
  expect(partial.body.status.pending_approval.approvals.map((v: { actor: string }) => v.actor)).toEqual(['alice']);
  expectEnvelope(await approve('alice'), 409, 'duplicate_approver');

  // Two approvers race for the second approval: exactly one is recorded.
  const race = await Promise.all([approve('bob'), approve('carol')]);
  expect(race.map((r) => r.status).sort()).toEqual([200, 409]);
  // The loser is refused by the workflow (already decided) or, once the run moved on, by the API (nothing pending).
  const loser = race.find((r) => r.status === 409)!;
  expect(['already_decided', 'no_pending_approval']).toContain(loser.body.error.code);
  const winner = race.find((r) => r.status === 200)!.body;
  expect(winner).toMatchObject({ state: 'approved', approvals: [{ actor: 'alice' }, { actor: winner.actor }] });

  const done = await api
    .waitForRun(runUrl, (r) => r.execution_status === 'COMPLETED', 'RMA opened')
    .catch(async (e) => {
      const h = await stack.client.workflow.getHandle(`gpu-fault/${NODE}`, runId).fetchHistory();
      require('fs').writeFileSync(
        '/tmp/nde-history.json',
        JSON.stringify(
          h.events!.map((ev) => ({ id: String(ev.eventId), type: ev.eventType, attrs: Object.keys(ev).filter((k) => k.endsWith('Attributes')) })),
          null,
          1,
        ),
      );
      throw e;
    });
  expect(done.status.outcome).toBe('rma_opened');
  expect(done.status.approvals).toEqual([
    expect.objectContaining({ step: 'approve_rma', decision: 'approve', actor: `alice, ${winner.actor}`, approvals: winner.approvals }),
  ]);
  expect(await refusedSignalEvidence(runId)).toEqual([]);
});

test('decisions sent straight to Temporal meet the same rules: no actor, an unknown actor or the requester change nothing', async () => {
  const { runId, pending } = await waitingRma({ approval_escalation: { after: '1s', group: 'hw-oncall' } });
  const handle = stack.client.workflow.getHandle(`gpu-fault/${NODE}`, runId);

  // An update without an actor is rejected by the validator: nothing enters the history.
  const noActor = await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', reason: 'x' } as never] }).catch((e: unknown) => e);
  expect(noActor).toBeInstanceOf(WorkflowUpdateFailedError);
  expect((noActor as WorkflowUpdateFailedError).cause).toMatchObject({ type: 'missing_actor' });

  // Signals cannot answer, so a refused one is recorded as evidence.
  await handle.signal(approvalSignal, { decision: 'approve', reason: 'no actor' } as never);
  await handle.signal(approvalSignal, { decision: 'approve', actor: 'mallory', reason: 'trust me', approval_id: pending.id });
  await handle.signal(approvalSignal, { decision: 'approve', actor: 'admin', reason: 'my own run', approval_id: pending.id });
  const refused = await eventually(async () => {
    const rows = await refusedSignalEvidence(runId);
    return rows.length === 3 ? rows : undefined;
  }, 'three refused signals');
  expect(refused).toEqual([
    'refused approval signal from (no actor): a decision must name its actor',
    'refused approval signal from admin: admin requested this run and cannot decide its approvals (two-person rule)',
    'refused approval signal from mallory: mallory is not a known principal with the approver role',
  ]);
  expect((await handle.query(statusQuery)).pending_approval?.approvals).toEqual([]);

  // Nobody decided within a second: the escalation group's webhook hears about it, once.
  const escalation = await eventually(async () => escalations[0], 'the escalation webhook');
  expect(escalation.body).toMatchObject({
    event: 'approval_escalated',
    group: 'hw-oncall',
    workflow_id: `gpu-fault/${NODE}`,
    approval_id: pending.id,
    progress: '0 of 2',
  });
  expect(escalation.headers['idempotency-key']).toContain(`gpu-fault/${NODE}/${runId}/`);

  // Known approvers by signal count like any other.
  await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'from the Temporal UI', approval_id: pending.id });
  await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-second', reason: 'from the CLI', approval_id: pending.id });
  const done = await api.waitForRun(runUrl, (r) => r.execution_status === 'COMPLETED', 'RMA opened by signals');
  expect(done.status.outcome).toBe('rma_opened');
  expect(done.status.approvals[0].approvals.map((v: { actor: string; via: string }) => `${v.actor}/${v.via}`)).toEqual([
    'sre-oncall/signal',
    'sre-second/signal',
  ]);
  expect(escalations).toHaveLength(1);
});

test('with APPROVAL_SIGNALS=off a signal from a known approver changes nothing; the API still decides', async () => {
  const closed = await startApiWithWorker(stack, 'approvals-no-signals', { approvals: { signals: false } });
  try {
    await stack.lab.injectXid(NODE, 6, 48, true);
    const started = await closed.api.trigger({ node_id: NODE, xid: 48, gpu_index: 6 });
    const pending = (await closed.api.waitForRun(runUrl, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval')).status.pending_approval;
    const handle = stack.client.workflow.getHandle(`gpu-fault/${NODE}`, started.body.run_id);
    await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'from the Temporal UI', approval_id: pending.id });
    expect(await eventually(async () => (await refusedSignalEvidence(started.body.run_id))[0], 'the refused signal')).toBe(
      'refused approval signal from sre-oncall: approval signals are turned off on this worker (APPROVAL_SIGNALS=off); decide through the API',
    );
    expect((await handle.query(statusQuery)).pending_approval?.approvals).toEqual([]);

    for (const who of ['alice', 'bob'] as const) {
      expect((await closed.api.as(who, 'POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'via the API' })).status).toBe(200);
    }
    expect((await closed.api.waitForRun(runUrl, (r) => r.execution_status === 'COMPLETED', 'RMA opened')).status.outcome).toBe('rma_opened');
  } finally {
    await closed.stop();
  }
});
