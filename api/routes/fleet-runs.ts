import { WorkflowNotFoundError } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ErrorThresholdSchema, fleetStatusQuery, type FleetRunInput, type FleetTarget } from '../../domain/fleet-run';
import { NodeIdSchema } from '../../domain/inventory';
import { ApiError, invalidInput } from '../errors';
import { findRunbook, runbookNames } from '../runbook-registry';
import type { ApiDeps } from '../server';
import { DEFAULT_TEMPORAL_TIMEOUT_MS, TemporalBudget, type PendingCalls } from '../temporal-call';

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

/** One runbook over many targets (engine/fleet-run.ts): start it, and read its per-target progress. */
export function registerFleetRunRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const { client } = deps;
  const budget = () => new TemporalBudget(client, deps.temporalTimeoutMs ?? DEFAULT_TEMPORAL_TIMEOUT_MS, pending);

  app.post<{ Params: { runbook: string } }>('/api/v1/runbooks/:runbook/fleet-runs', async (req, reply) => {
    const entry = findRunbook(req.params.runbook);
    if (!entry) throw new ApiError(404, 'unknown_runbook', `no runbook named ${JSON.stringify(req.params.runbook)}`, { known: runbookNames() });
    const parsed = FleetRunRequestSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'fleet run');
    const body = parsed.data;
    const hosts = body.node_ids
      ? body.node_ids.map((id) => deps.inventory.hosts.find((h) => h.node_id === id) ?? { node_id: id, missing: true as const })
      : deps.inventory.hosts.filter((h) => Object.entries(body.label!).every(([k, v]) => h.labels[k] === v));
    if (hosts.length === 0) throw new ApiError(404, 'no_targets', 'no node in the inventory carries that label', { label: body.label });
    const correlationId = req.id;
    // Every target is checked as a single run would be, before anything starts.
    const targets: FleetTarget[] = [];
    const problems: Record<string, string> = {};
    for (const host of hosts) {
      if ('missing' in host) {
        problems[host.node_id] = 'node_not_found';
        continue;
      }
      if (host.role !== entry.targetRole) problems[host.node_id] = `host_role_violation: ${host.role}`;
      else if (body.input['run_mode'] === 'drill' && !host.drillable) problems[host.node_id] = 'not_drillable';
      const input = entry.schema.safeParse({ ...body.input, node_id: host.node_id, correlation_id: correlationId });
      if (!input.success) throw invalidInput(input.error, `input for ${entry.name}`);
      if (!problems[host.node_id]) targets.push({ node_id: host.node_id, workflow_id: entry.workflowId(input.data), input: input.data });
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
    };
    const handle = await budget().call('start', () => client.workflow.start('fleetRun', { taskQueue: deps.taskQueue, workflowId, args: [args] }));
    req.log.info({ workflow_id: workflowId, runbook: entry.name, targets: targets.length }, 'fleet run started');
    return reply
      .status(201)
      .send({ workflow_id: workflowId, run_id: handle.firstExecutionRunId, runbook: entry.name, targets: targets.length, status_url: fleetRunUrl(workflowId) });
  });

  app.get<{ Params: { workflowId: string } }>('/api/v1/fleet-runs/:workflowId', async (req) => {
    const id = req.params.workflowId;
    if (!id.startsWith('fleet/')) throw new ApiError(404, 'run_not_found', `no fleet run ${id}`);
    try {
      const temporal = budget();
      const description = await temporal.call('describe', () => client.workflow.getHandle(id).describe());
      const status = await temporal.call('status query', () => client.workflow.getHandle(id).query(fleetStatusQuery), 'worker_unavailable');
      return { workflow_id: id, execution_status: description.status.name, status };
    } catch (err) {
      if (err instanceof WorkflowNotFoundError) throw new ApiError(404, 'run_not_found', `no fleet run ${id}`);
      throw err;
    }
  });
}
