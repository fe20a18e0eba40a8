import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorThresholdSchema, fleetStatusQuery, type FleetRunInput, type FleetTarget } from '../../domain/fleet-run';
import { NodeIdSchema } from '../../domain/inventory';
import { MEMO_REQUESTED_BY } from '../../domain/runbook';
import { SA } from '../../domain/search-attributes';
import { ApiError, invalidInput } from '../errors';
import { runbookPathParams, routeApis } from '../openapi/route-api';
import { findRunbook, runbookNames } from '../runbook-registry';
import { targetProblem } from '../target-check';
import type { ApiDeps } from '../server';
import { requestBudgets, type PendingCalls } from '../temporal-call';

const FleetRunRequestSchema = z
  .object({
    /** The targets: a list of nodes, or every node carrying a label (e.g. {"rack": "rack-1"}). */
    node_ids: z.array(NodeIdSchema).min(1).max(10_000).optional(),
    label: z.record(z.string(), z.string()).optional(),
    /** The runbook's input for every target, without node_id. */
    input: z.record(z.unknown()).default({}),
    max_concurrency: z.number().int().min(1).max(1_000).default(10),
    max_errors: ErrorThresholdSchema.default({ count: 0 }),
  })
  .strict()
  .refine((r) => (r.node_ids === undefined) !== (r.label === undefined), 'give node_ids or label, not both');

const fleetRunUrl = (id: string) => `/api/v1/fleet-runs/${encodeURIComponent(id)}`;

/** The routes' entries in /openapi.json. */
const API = routeApis({
  start: {
    summary: 'Run a runbook over many nodes',
    description:
      'Targets are `node_ids`, or every inventory node carrying `label`. Every target is checked as a single run would be before anything starts; ' +
      'at most `max_concurrency` run at once, and the fleet run stops starting new ones past `max_errors`.',
    tag: 'fleet-runs',
    params: runbookPathParams(),
    body: FleetRunRequestSchema,
    responses: {
      201: 'the fleet run started: `workflow_id`, `targets` and `status_url`',
      400: 'invalid_input, or unsupported_run_mode (fleet runs are live or drill)',
      404: 'unknown_runbook, or no_targets (no node carries the label)',
      422: 'invalid_targets: details.targets says why each refused node cannot run it',
    },
  },
  get: {
    summary: "A fleet run's per-target progress",
    responses: { 200: '`execution_status` and `status`, per target', 404: 'run_not_found' },
  },
});

/** One runbook over many targets (engine/fleet-run.ts): start it, and read its per-target progress. */
export function registerFleetRunRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const { client } = deps;
  const budget = requestBudgets(client, deps.temporalTimeoutMs, pending);

  app.post<{ Params: { runbook: string } }>('/api/v1/runbooks/:runbook/fleet-runs', { config: { role: 'operator', api: API.start } }, async (req, reply) => {
    const entry = findRunbook(req.params.runbook);
    if (!entry) throw new ApiError(404, 'unknown_runbook', `no runbook named ${JSON.stringify(req.params.runbook)}`, { known: runbookNames() });
    const parsed = FleetRunRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'fleet run');
    const body = parsed.data;
    const nodeIds = body.node_ids ?? deps.inventory.hosts.filter((h) => Object.entries(body.label!).every(([k, v]) => h.labels[k] === v)).map((h) => h.node_id);
    if (nodeIds.length === 0) throw new ApiError(404, 'no_targets', 'no node in the inventory carries that label', { label: body.label });
    const correlationId = req.id;
    // A plan is made per node (POST .../runs with run_mode plan); a plan_hash names one node's plan.
    if (body.input['run_mode'] === 'plan' || body.input['plan_hash'] !== undefined) {
      throw new ApiError(400, 'unsupported_run_mode', 'fleet runs are live or drill; plan each node with a single run', { supported: ['live', 'drill'] });
    }
    const runMode = body.input['run_mode'] === 'drill' ? 'drill' : 'live';
    // Every target is checked as a single run would be, before anything starts.
    const targets: FleetTarget[] = [];
    const problems: Record<string, string> = {};
    for (const nodeId of nodeIds) {
      const problem = targetProblem(entry, deps.inventory, nodeId, runMode);
      if (problem) {
        problems[nodeId] = problem.code === 'host_role_violation' ? `${problem.code}: ${(problem.details as { role: string }).role}` : problem.code;
        continue;
      }
      const input = entry.schema.safeParse({ ...body.input, node_id: nodeId, correlation_id: correlationId });
      if (!input.success) throw invalidInput(input.error, `input for ${entry.name}`);
      targets.push({ node_id: nodeId, workflow_id: entry.workflowId(input.data), input: input.data });
    }
    if (Object.keys(problems).length > 0)
      throw new ApiError(422, 'invalid_targets', `${Object.keys(problems).length} target(s) cannot run ${entry.name}`, { targets: problems });
    const workflowId = `fleet/${entry.name}/${correlationId}`;
    const args: FleetRunInput = {
      runbook: entry.name,
      child_workflow_type: entry.workflowType,
      targets,
      max_concurrency: body.max_concurrency,
      max_errors: body.max_errors,
      correlation_id: correlationId,
      requested_by: req.principal!.name,
    };
    const handle = await budget().call('start', () =>
      client.workflow.start('fleetRun', { taskQueue: deps.taskQueue, workflowId, args: [args], memo: { [MEMO_REQUESTED_BY]: args.requested_by } }),
    );
    req.log.info({ workflow_id: workflowId, runbook: entry.name, targets: targets.length }, 'fleet run started');
    return reply
      .status(201)
      .send({ workflow_id: workflowId, run_id: handle.firstExecutionRunId, runbook: entry.name, targets: targets.length, status_url: fleetRunUrl(workflowId) });
  });

  app.get<{ Params: { workflowId: string } }>('/api/v1/fleet-runs/:workflowId', { config: { role: 'viewer', api: API.get } }, async (req) => {
    const id = req.params.workflowId;
    if (!id.startsWith('fleet/')) throw new ApiError(404, 'run_not_found', `no fleet run ${id}`);
    try {
      const temporal = budget();
      const description = await temporal.call('describe', () => client.workflow.getHandle(id).describe());
      // A fleet run carries `fleet:<runbook>`; any other workflow under that id prefix is not one.
      const runbook = description.typedSearchAttributes.get(SA.Runbook);
      if (description.type !== 'fleetRun' || !runbook?.startsWith('fleet:') || !findRunbook(runbook.slice('fleet:'.length))) {
        throw new ApiError(404, 'run_not_found', `no fleet run ${id}`);
      }
      const status = await temporal.call('status query', () => client.workflow.getHandle(id).query(fleetStatusQuery), 'worker_unavailable');
      return { workflow_id: id, execution_status: description.status.name, status };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'run_not_found', `no fleet run ${id}`);
      throw err;
    }
  });
}
