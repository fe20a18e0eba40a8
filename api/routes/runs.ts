import { randomUUID } from 'node:crypto';
import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError, type Client, type WorkflowExecutionDescription } from '@temporalio/client';
import { APPROVAL_REFUSALS, type ApprovalRefusalCode } from '../../domain/approvals';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { approvalSignal, approvalUpdate, cancelRequestSignal, statusQuery } from '../../domain/messages';
import { ApprovalDecisionSchema, CancelRequestSchema, type ApprovalAnswer, type RunStatus } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { textProblem } from '../../domain/text';
import { AlertLedger } from '../alert-ledger';
import { AlertRouter, DEFAULT_ALERT_KEY_CAP, DEFAULT_RECHECK_MS, STALE_CLAIM_MS } from '../alert-router';
import { ApiError, invalidInput } from '../errors';
import { codesAnswering, runbookInputSchemas, runbookPathParams, routeApis } from '../openapi/route-api';
import { findRunbook, runbookNames } from '../runbook-registry';
import { targetProblem } from '../target-check';
import { checkPlanReference, findPlan, startPlanRun } from '../plans';
import { PlanHashSchema } from '../../domain/plan';
import type { ApiDeps } from '../server';
import { requestBudgets, TemporalBudget, type PendingCalls } from '../temporal-call';

const EXECUTION_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  timed_out: 'TimedOut',
  continued_as_new: 'ContinuedAsNew',
} as const;

/** An approval update waits for a worker to validate and record it. */
const APPROVAL_UPDATE_TIMEOUT_MS = 10_000;

const KEYWORD = /^[A-Za-z0-9._:\/-]{1,200}$/;
const ListQuerySchema = z
  .object({
    runbook: z.string().regex(KEYWORD).optional(),
    status: z.enum(Object.keys(EXECUTION_STATUSES) as [keyof typeof EXECUTION_STATUSES]).optional(),
    awaiting_approval: z.enum(['true', 'false']).optional(),
    node_id: z.string().regex(KEYWORD).optional(),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** Temporal's default limit on workflow id length. Not trimmed: the id is matched exactly. */
const WorkflowIdParamSchema = z.object({
  workflowId: z
    .string()
    .min(1)
    .max(1000)
    .superRefine((value, ctx) => {
      const problem = textProblem(value);
      if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
    }),
});

function workflowIdOf(params: unknown): string {
  const parsed = WorkflowIdParamSchema.safeParse(params);
  if (!parsed.success) throw invalidInput(parsed.error, 'workflow id');
  return parsed.data.workflowId;
}

/** What an approval or cancel body may hold: the actor is the authenticated principal, never a field. */
const ApprovalBodySchema = ApprovalDecisionSchema.omit({ actor: true }).strict();
const CancelBodySchema = CancelRequestSchema.omit({ actor: true }).strict();

/** The routes' entries in /openapi.json. */
const API = routeApis({
  start: {
    summary: 'Trigger a runbook on a node (or plan it, or drill it)',
    description:
      'The body is the input of the runbook named in the path. An alert for a node that already has an open run joins that run instead of starting another. ' +
      'run_mode plan records a plan and changes nothing; a live run with `plan_hash` follows that plan and refuses when the plan it makes now differs.',
    tag: 'runs',
    params: runbookPathParams(),
    body: runbookInputSchemas(),
    responses: {
      201: 'a run started: `workflow_id`, `run_id`, `status_url`',
      200: 'the alert joined the open run of the node (`deduplicated`: true)',
      400: 'invalid_input, or unsupported_run_mode (details.supported)',
      404: 'unknown_runbook (details.known) or node_not_found (not in the inventory)',
      422: 'host_role_violation or not_drillable (the node is not a host this runbook may act on), unknown_plan or plan_mismatch',
    },
  },
  plan: {
    summary: 'A recorded plan, by its hash',
    tag: 'runs',
    params: z.object({ planHash: PlanHashSchema }),
    responses: { 200: 'the plan', 404: 'plan_not_found' },
  },
  get: {
    summary: "A run's execution and its status: phase, steps, pending approval, outcome",
    description: 'The workflow id contains "/": URL-encode it (%2F).',
    params: WorkflowIdParamSchema,
    responses: { 200: 'the execution, `alerts` counts and `status`', 404: 'run_not_found (also for a workflow that is not a runbook run)' },
  },
  list: {
    summary: 'Runbook runs, newest first, filtered',
    query: ListQuerySchema,
    responses: { 200: '`query` (the Temporal visibility query it ran) and `runs`' },
  },
  approve: {
    summary: 'Decide the pending approval of a run',
    description: 'The actor is the authenticated principal: the body cannot name one. Without `approval_id` the decision answers the approval pending now.',
    params: WorkflowIdParamSchema,
    body: ApprovalBodySchema,
    responses: {
      200: 'the decision recorded, and the approval as it now stands (`state`, `approvals`, `min_approvals`)',
      202: 'a run from before the approval rules: the decision was sent by signal',
      400: `invalid_input, ${codesAnswering(APPROVAL_REFUSALS, 400)}`,
      403: `forbidden (the principal lacks the approver role), ${codesAnswering(APPROVAL_REFUSALS, 403)}`,
      404: 'run_not_found',
      409: codesAnswering(APPROVAL_REFUSALS, 409),
    },
  },
  cancel: {
    summary: 'Cancel a running run',
    description: 'The actor is the authenticated principal; the run records who and why before it unwinds (and rolls back what it must).',
    params: WorkflowIdParamSchema,
    body: CancelBodySchema,
    responses: { 202: 'cancellation requested', 404: 'run_not_found', 409: 'not_running: the run has already closed' },
  },
});

export function registerRunRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const { client } = deps;
  const ledger = new AlertLedger(deps.pool, { recheckMs: deps.alertRecheckMs ?? DEFAULT_RECHECK_MS, staleClaimMs: STALE_CLAIM_MS });
  const router = new AlertRouter({
    client,
    ledger,
    taskQueue: deps.taskQueue,
    cooldownMs: deps.alertCooldownMs,
    keyCap: deps.alertKeyCap ?? DEFAULT_ALERT_KEY_CAP,
  });
  const budget = requestBudgets(client, deps.temporalTimeoutMs, pending);

  app.post<{ Params: { runbook: string } }>('/api/v1/runbooks/:runbook/runs', { config: { role: 'operator', api: API.start } }, async (req, reply) => {
    const entry = findRunbook(req.params.runbook);
    if (!entry) throw new ApiError(404, 'unknown_runbook', `no runbook named ${JSON.stringify(req.params.runbook)}`, { known: runbookNames() });
    const parsed = entry.schema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, `input for ${entry.name}`);
    const input = parsed.data;
    if (!entry.supportedRunModes.includes(input.run_mode)) {
      throw new ApiError(400, 'unsupported_run_mode', `run_mode ${input.run_mode} is not supported by ${entry.name} yet`, {
        supported: entry.supportedRunModes,
      });
    }
    // The target must be a host the engine knows, of the role the runbook acts on, before
    // anything starts; the workflow checks again, but a run for a wrong node should not exist.
    const nodeId = entry.nodeId(input);
    if (nodeId !== undefined) {
      const problem = targetProblem(entry, deps.inventory, nodeId, input.run_mode);
      if (problem) throw problem;
    }
    const correlationId: string = input.correlation_id ?? req.id;
    const planHash = typeof input.plan_hash === 'string' ? input.plan_hash : undefined;
    if (input.run_mode === 'plan') {
      if (planHash)
        throw new ApiError(400, 'invalid_input', 'plan_hash is for a live run started from a plan, not for a plan run', {
          fields: [{ path: 'plan_hash', message: 'not with run_mode plan' }],
        });
      const started = await startPlanRun(client, deps.taskQueue, entry, { ...input, correlation_id: correlationId }, budget(), req.principal!.name);
      req.log.info({ workflow_id: started.workflowId, run_id: started.runId, runbook: entry.name }, 'plan run started');
      return reply.status(201).send({
        workflow_id: started.workflowId,
        run_id: started.runId,
        runbook: entry.name,
        run_mode: 'plan',
        correlation_id: correlationId,
        status_url: statusUrl(started.workflowId),
      });
    }
    if (planHash) await checkPlanReference(deps.pool, entry, nodeId, planHash);
    const routed = await router.route(entry, { ...input, correlation_id: correlationId }, budget(), req.principal!.name);
    const startedNow = routed.outcome === 'started';
    req.log.info(
      { workflow_id: routed.workflowId, run_id: routed.runId, alert: routed.outcome, runbook: entry.name },
      startedNow ? 'run started' : `alert ${routed.outcome}`,
    );
    return reply.status(startedNow ? 201 : 200).send({
      workflow_id: routed.workflowId,
      run_id: routed.runId,
      runbook: entry.name,
      correlation_id: correlationId,
      status_url: statusUrl(routed.workflowId),
      alert: routed.outcome,
      ...(startedNow ? {} : { deduplicated: true }),
      // A trigger that joins an open run does not change what that run follows.
      ...(planHash ? { plan_hash: planHash, plan_followed: startedNow } : {}),
    });
  });

  app.get<{ Params: { planHash: string } }>('/api/v1/plans/:planHash', { config: { role: 'viewer', api: API.plan } }, async (req) => {
    const parsed = PlanHashSchema.safeParse(req.params.planHash);
    if (!parsed.success) throw invalidInput(parsed.error, 'plan hash');
    const plan = await findPlan(deps.pool, parsed.data);
    if (!plan) throw new ApiError(404, 'plan_not_found', `no plan with hash ${parsed.data}`);
    return plan;
  });

  app.get<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId', { config: { role: 'viewer', api: API.get } }, async (req) => {
    const workflowId = workflowIdOf(req.params);
    const { description, status } = await describeRun(budget(), client, workflowId);
    const alerts = await ledger.counts(description.workflowId, description.runId);
    return { ...toExecution(description), alerts, status };
  });

  app.get('/api/v1/runs', { config: { role: 'viewer', api: API.list } }, async (req) => {
    const parsed = ListQuerySchema.safeParse(req.query);
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const q = parsed.data;
    const clauses = [
      `${SA.Runbook.name} IN (${runbookNames()
        .map((n) => `'${n}'`)
        .join(', ')})`,
    ];
    if (q.runbook) clauses.push(`${SA.Runbook.name} = '${q.runbook}'`);
    if (q.status) clauses.push(`ExecutionStatus = '${EXECUTION_STATUSES[q.status]}'`);
    if (q.awaiting_approval) clauses.push(`${SA.AwaitingApproval.name} = ${q.awaiting_approval}`);
    if (q.node_id) clauses.push(`${SA.NodeId.name} = '${q.node_id}'`);
    const query = clauses.join(' AND ');
    const runs = await budget().call('list', async () => {
      const found = [];
      for await (const wf of client.workflow.list({ query })) {
        const sa = wf.typedSearchAttributes;
        found.push({
          workflow_id: wf.workflowId,
          run_id: wf.runId,
          execution_status: wf.status.name,
          runbook: sa.get(SA.Runbook) ?? null,
          phase: sa.get(SA.RunbookPhase) ?? null,
          node_id: sa.get(SA.NodeId) ?? null,
          host_name: sa.get(SA.HostName) ?? null,
          awaiting_approval: sa.get(SA.AwaitingApproval) ?? false,
          correlation_id: sa.get(SA.CorrelationId) ?? null,
          started_at: wf.startTime.toISOString(),
          closed_at: wf.closeTime?.toISOString() ?? null,
          status_url: statusUrl(wf.workflowId),
        });
        if (found.length >= q.limit) break;
      }
      return found;
    });
    return { query, runs };
  });

  app.post<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId/approvals', { config: { role: 'approver', api: API.approve } }, async (req, reply) => {
    const workflowId = workflowIdOf(req.params);
    // The actor is the authenticated principal; a body cannot name someone else.
    const parsed = ApprovalBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'approval');
    const temporal = budget();
    // Check the execution first: a closed run needs no query to answer 409.
    const { description } = await describeRun(temporal, client, workflowId, false);
    const waiting = description.status.name === 'RUNNING' ? (await queryStatus(temporal, client, description)).pending_approval : null;
    if (!waiting) {
      throw new ApiError(409, 'no_pending_approval', `run ${workflowId} is not waiting for an approval`, {
        execution_status: description.status.name,
      });
    }
    const actor = req.principal!.name;
    const handle = client.workflow.getHandle(workflowId, description.runId);
    // The decision names the request it answers (the pending one unless the caller said which), so it cannot land on a later one.
    const decision = { ...parsed.data, actor, approval_id: parsed.data.approval_id ?? waiting.id };
    if (waiting.legacy) {
      // A run from before the approval rules takes one decision, by signal only.
      await temporal.call('signal', () => handle.signal(approvalSignal, decision));
      return reply.status(202).send({ workflow_id: workflowId, run_id: description.runId, approval_id: decision.approval_id, decision: decision.decision });
    }
    // The update is validated by the workflow before it is accepted, and answers with what it recorded.
    // A retry that carries the same Idempotency-Key gets the first answer back instead of a 409.
    const updates = new TemporalBudget(client, deps.temporalTimeoutMs ?? APPROVAL_UPDATE_TIMEOUT_MS, pending);
    let answer: ApprovalAnswer;
    try {
      answer = await updates.call(
        'approval update',
        () =>
          handle.executeUpdate(approvalUpdate, { args: [decision], updateId: approvalUpdateId(decision.approval_id, actor, req.headers['idempotency-key']) }),
        'worker_unavailable',
      );
    } catch (err) {
      throw approvalRefused(err, workflowId) ?? err;
    }
    req.log.info({ workflow_id: workflowId, approval_id: answer.approval_id, decision: answer.decision, actor, state: answer.state }, 'approval recorded');
    return { workflow_id: workflowId, run_id: description.runId, ...answer };
  });

  app.post<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId/cancel', { config: { role: 'operator', api: API.cancel } }, async (req, reply) => {
    const workflowId = workflowIdOf(req.params);
    const parsed = CancelBodySchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'cancel request');
    const temporal = budget();
    const { description } = await describeRun(temporal, client, workflowId, false);
    if (description.status.name !== 'RUNNING') {
      throw new ApiError(409, 'not_running', `run ${workflowId} is ${description.status.name.toLowerCase()}`, {});
    }
    const handle = client.workflow.getHandle(workflowId, description.runId);
    // Who and why first, so the workflow records them before it unwinds.
    const actor = req.principal!.name;
    await temporal.call('signal', () => handle.signal(cancelRequestSignal, { ...parsed.data, actor }));
    await temporal.call('cancel', () => handle.cancel());
    req.log.warn({ workflow_id: workflowId, actor, reason: parsed.data.reason }, 'cancel requested');
    return reply.status(202).send({ workflow_id: workflowId, run_id: description.runId, cancel_requested: true });
  });
}

function approvalUpdateId(approvalId: string, actor: string, idempotencyKey: string | string[] | undefined): string {
  const key = typeof idempotencyKey === 'string' && KEYWORD.test(idempotencyKey) ? idempotencyKey : randomUUID();
  return `${approvalId}/${actor}/${key}`;
}

/** The workflow's refusal of an approval update, as the API's 4xx; undefined for any other failure. */
function approvalRefused(err: unknown, workflowId: string): ApiError | undefined {
  if (err instanceof WorkflowNotFoundError) return new ApiError(409, 'no_pending_approval', `run ${workflowId} closed before the decision arrived`, {});
  if (!(err instanceof WorkflowUpdateFailedError) || !(err.cause instanceof ApplicationFailure)) return undefined;
  const code = err.cause.type as ApprovalRefusalCode | undefined;
  if (!code || !(code in APPROVAL_REFUSALS)) return undefined;
  return new ApiError(APPROVAL_REFUSALS[code], code, err.cause.message, {});
}

async function describeRun(
  temporal: TemporalBudget,
  client: Client,
  workflowId: string,
  withStatus = true,
): Promise<{ description: WorkflowExecutionDescription; status: RunStatus | null }> {
  let description: WorkflowExecutionDescription;
  try {
    description = await temporal.call('describe', () => client.workflow.getHandle(workflowId).describe());
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'run_not_found', `no run with workflow id ${workflowId}`);
    throw err;
  }
  // Only runbook runs: another workflow in the namespace (a ledger, a drill, anyone's) is not found here.
  const runbook = description.typedSearchAttributes.get(SA.Runbook);
  if (!runbook || !findRunbook(runbook)) throw new ApiError(404, 'run_not_found', `no run with workflow id ${workflowId}`);
  if (!withStatus) return { description, status: null };
  return { description, status: await queryStatus(temporal, client, description) };
}

/** The status query waits on a worker, so a timeout here more likely means no worker than no Temporal. */
function queryStatus(temporal: TemporalBudget, client: Client, d: WorkflowExecutionDescription): Promise<RunStatus> {
  return temporal.call('status query', () => client.workflow.getHandle(d.workflowId, d.runId).query(statusQuery), 'worker_unavailable');
}

function toExecution(d: WorkflowExecutionDescription) {
  return {
    workflow_id: d.workflowId,
    run_id: d.runId,
    workflow_type: d.type,
    execution_status: d.status.name,
    started_at: d.startTime.toISOString(),
    closed_at: d.closeTime?.toISOString() ?? null,
    history_length: d.historyLength,
  };
}

function statusUrl(workflowId: string): string {
  return `/api/v1/runs/${encodeURIComponent(workflowId)}`;
}
