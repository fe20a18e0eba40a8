import {
  WorkflowExecutionAlreadyStartedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionDescription,
} from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { approvalSignal, cancelRequestSignal, statusQuery } from '../../domain/messages';
import { ApprovalDecisionSchema, CancelRequestSchema, type RunStatus } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { ApiError, invalidInput } from '../errors';
import { RUNBOOKS, type RunbookEntry } from '../runbook-registry';
import type { ApiDeps } from '../server';

/** A duplicate trigger races the open run's end at most this many times before giving up. */
const JOIN_ATTEMPTS = 3;

const EXECUTION_STATUSES = {
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  canceled: 'Canceled',
  terminated: 'Terminated',
  timed_out: 'TimedOut',
  continued_as_new: 'ContinuedAsNew',
} as const;

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

export function registerRunRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const { client } = deps;

  app.post<{ Params: { runbook: string } }>('/api/v1/runbooks/:runbook/runs', async (req, reply) => {
    const entry = RUNBOOKS[req.params.runbook];
    if (!entry) throw new ApiError(404, 'unknown_runbook', `no runbook named ${req.params.runbook}`, { known: Object.keys(RUNBOOKS) });
    const parsed = entry.schema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, `input for ${entry.name}`);
    const input = parsed.data;
    if (!entry.supportedRunModes.includes(input.run_mode)) {
      throw new ApiError(400, 'unsupported_run_mode', `run_mode ${input.run_mode} is not supported by ${entry.name} yet`, { supported: entry.supportedRunModes });
    }
    const correlationId: string = input.correlation_id ?? req.id;
    const started = await startOrJoin(client, deps.taskQueue, entry, { ...input, correlation_id: correlationId }, correlationId);
    req.log.info({ workflow_id: started.workflowId, run_id: started.runId, deduplicated: started.deduplicated, runbook: entry.name }, started.deduplicated ? 'trigger joined the open run' : 'run started');
    return reply.status(started.deduplicated ? 200 : 201).send({
      workflow_id: started.workflowId,
      run_id: started.runId,
      runbook: entry.name,
      correlation_id: correlationId,
      status_url: statusUrl(started.workflowId),
      ...(started.deduplicated ? { deduplicated: true } : {}),
    });
  });

  app.get<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId', async (req) => {
    const { description, status } = await describeRun(client, req.params.workflowId);
    return { ...toExecution(description), status };
  });

  app.get('/api/v1/runs', async (req) => {
    const parsed = ListQuerySchema.safeParse(req.query);
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const q = parsed.data;
    const clauses = [`${SA.Runbook.name} IS NOT NULL`];
    if (q.runbook) clauses.push(`${SA.Runbook.name} = '${q.runbook}'`);
    if (q.status) clauses.push(`ExecutionStatus = '${EXECUTION_STATUSES[q.status]}'`);
    if (q.awaiting_approval) clauses.push(`${SA.AwaitingApproval.name} = ${q.awaiting_approval}`);
    if (q.node_id) clauses.push(`${SA.NodeId.name} = '${q.node_id}'`);
    const query = clauses.join(' AND ');
    const runs = [];
    for await (const wf of client.workflow.list({ query })) {
      const sa = wf.typedSearchAttributes;
      runs.push({
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
      if (runs.length >= q.limit) break;
    }
    return { query, runs };
  });

  app.post<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId/approvals', async (req, reply) => {
    const parsed = ApprovalDecisionSchema.omit({ approval_id: true }).strict().safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'approval');
    // Check the execution first: a closed run needs no query to answer 409.
    const { description } = await describeRun(client, req.params.workflowId, false);
    const pending = description.status.name === 'RUNNING' ? (await queryStatus(client, description)).pending_approval : null;
    if (!pending) {
      throw new ApiError(409, 'no_pending_approval', `run ${req.params.workflowId} is not waiting for an approval`, {
        execution_status: description.status.name,
      });
    }
    // The approval names the request it answers, so it cannot land on a later one.
    await client.workflow.getHandle(req.params.workflowId, description.runId).signal(approvalSignal, { ...parsed.data, approval_id: pending.id });
    req.log.info({ workflow_id: req.params.workflowId, approval_id: pending.id, decision: parsed.data.decision, actor: parsed.data.actor }, 'approval sent');
    return reply.status(202).send({ workflow_id: req.params.workflowId, run_id: description.runId, approval_id: pending.id, decision: parsed.data.decision });
  });

  app.post<{ Params: { workflowId: string } }>('/api/v1/runs/:workflowId/cancel', async (req, reply) => {
    const parsed = CancelRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'cancel request');
    const { description } = await describeRun(client, req.params.workflowId, false);
    if (description.status.name !== 'RUNNING') {
      throw new ApiError(409, 'not_running', `run ${req.params.workflowId} is ${description.status.name.toLowerCase()}`, {});
    }
    const handle = client.workflow.getHandle(req.params.workflowId, description.runId);
    // Who and why first, so the workflow records them before it unwinds.
    await handle.signal(cancelRequestSignal, parsed.data);
    await handle.cancel();
    req.log.warn({ workflow_id: req.params.workflowId, actor: parsed.data.actor, reason: parsed.data.reason }, 'cancel requested');
    return reply.status(202).send({ workflow_id: req.params.workflowId, run_id: description.runId, cancel_requested: true });
  });
}

interface Started {
  workflowId: string;
  runId: string;
  deduplicated: boolean;
}

/**
 * Starts the run, or — when one is already open for the same target — delivers
 * the trigger to it as a signal. Exactly one of N concurrent triggers starts it.
 */
async function startOrJoin(client: Client, taskQueue: string, entry: RunbookEntry, input: Record<string, unknown> & { correlation_id: string; run_mode: string }, correlationId: string): Promise<Started> {
  const workflowId = entry.workflowId(input);
  const nodeId = entry.nodeId(input);
  for (let attempt = 1; ; attempt++) {
    try {
      const handle = await client.workflow.start(entry.workflowType, {
        taskQueue,
        workflowId,
        args: [input],
        workflowIdConflictPolicy: 'FAIL',
        typedSearchAttributes: [
          { key: SA.Runbook, value: entry.name },
          { key: SA.RunbookPhase, value: 'trigger' },
          { key: SA.CorrelationId, value: correlationId },
          { key: SA.RunMode, value: input.run_mode },
          { key: SA.AwaitingApproval, value: false },
          ...(nodeId ? [{ key: SA.NodeId, value: nodeId }] : []),
        ],
      });
      return { workflowId, runId: handle.firstExecutionRunId, deduplicated: false };
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    }
    try {
      const handle = client.workflow.getHandle(workflowId);
      const signal = entry.joinSignal(input, correlationId, new Date().toISOString());
      await handle.signal(signal.name, signal.arg);
      const description = await handle.describe();
      return { workflowId, runId: description.runId, deduplicated: true };
    } catch (err) {
      // The open run closed between our start and our signal: start a new one.
      if (!(err instanceof WorkflowNotFoundError) || attempt >= JOIN_ATTEMPTS) throw err;
    }
  }
}

async function describeRun(client: Client, workflowId: string, withStatus = true): Promise<{ description: WorkflowExecutionDescription; status: RunStatus | null }> {
  const handle = client.workflow.getHandle(workflowId);
  let description: WorkflowExecutionDescription;
  try {
    description = await handle.describe();
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'run_not_found', `no run with workflow id ${workflowId}`);
    throw err;
  }
  if (!withStatus) return { description, status: null };
  return { description, status: await queryStatus(client, description) };
}

function queryStatus(client: Client, d: WorkflowExecutionDescription): Promise<RunStatus> {
  return client.workflow.getHandle(d.workflowId, d.runId).query(statusQuery);
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

