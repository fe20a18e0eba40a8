import { ScheduleAlreadyRunning, ScheduleNotFoundError, ScheduleOverlapPolicy, type ScheduleDescription } from '@temporalio/client';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { drillOf, DrillSpecSchema, expectedText, fillTimePlaceholders, type DrillInput } from '../../domain/drills';
import { ApiError, invalidInput } from '../errors';
import { routeApis } from '../openapi/route-api';
import { findRunbook } from '../runbook-registry';
import { targetProblem } from '../target-check';
import type { ApiDeps } from '../server';
import { requestBudgets, type PendingCalls } from '../temporal-call';

const SCHEDULE_PREFIX = 'drill-';
const DrillIdSchema = z.object({ id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/) }).strict();
const ACTIONS = ['pause', 'unpause', 'trigger'] as const;

function drillIdOf(params: unknown): string {
  const parsed = DrillIdSchema.safeParse(params);
  if (!parsed.success) throw invalidInput(parsed.error, 'drill id');
  return parsed.data.id;
}

/** A drill as operators read it, from its schedule. */
function view(d: ScheduleDescription) {
  const input = d.action.type === 'startWorkflow' ? (d.action.args?.[0] as DrillInput | undefined) : undefined;
  return {
    id: d.scheduleId.slice(SCHEDULE_PREFIX.length),
    runbook: input?.runbook,
    scenario: input?.scenario.name,
    expected: input ? expectedText(input.scenario) : undefined,
    node_id: input?.node_id,
    schedule: d.memo?.['schedule'],
    created_by: d.memo?.['created_by'] ?? null,
    paused: d.state.paused,
    next_runs: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    recent_runs: d.info.recentActions.map((a) => ({ at: a.takenAt.toISOString(), workflow_id: a.action.workflow.workflowId })),
  };
}

/** The routes' entries in /openapi.json. */
const API = routeApis({
  create: {
    summary: "Schedule a drill: a runbook's scenario against a drillable host",
    description:
      "Runs on `cron` or `every`, never two at once; a run missed during an outage still starts within `catchup_window`. `input` overrides the scenario's run input for this drill; instants relative to each run are written `{now}`, `{now+2h}`, `{now-10m}` and filled as the run starts (checked here as if it started now; a malformed one is 400 invalid_input).",
    body: DrillSpecSchema,
    responses: {
      201: 'the drill as scheduled',
      400: 'invalid_input: the spec, a malformed time placeholder, or a run input the runbook refuses',
      404: "unknown_runbook, unknown_scenario (details.known lists the runbook's drills) or node_not_found",
      409: 'drill_exists',
      422: 'host_role_violation or not_drillable: the node is not a host this drill may act on',
    },
  },
  list: { summary: 'Every drill, with its next and recent runs', responses: { 200: '`drills`' } },
  get: { summary: 'One drill', params: DrillIdSchema, responses: { 200: 'the drill', 404: 'drill_not_found' } },
  delete: { summary: 'Delete a drill (its reports stay)', params: DrillIdSchema, responses: { 204: 'deleted', 404: 'drill_not_found' } },
  act: {
    summary: 'Pause, unpause or trigger a drill now',
    description: 'A triggered drill follows its overlap policy: it does not start beside a running one.',
    params: DrillIdSchema.extend({ action: z.enum(ACTIONS) }),
    responses: { 202: 'done', 404: 'drill_not_found or unknown_action' },
  },
  reports: { summary: "A drill's last 100 reports, newest first", params: DrillIdSchema, responses: { 200: '`drill_id` and `reports`' } },
});

/**
 * Drills as Temporal Schedules: each runs engine/drill.ts on its runbook's
 * scenario against a drillable host, never two at once (overlap SKIP), with a
 * catch-up window for runs missed during an outage; reports in PostgreSQL.
 */
export function registerDrillRoutes(app: FastifyInstance, deps: ApiDeps, pending: PendingCalls): void {
  const { client } = deps;
  const budget = requestBudgets(client, deps.temporalTimeoutMs, pending);
  const handleOf = (id: string) => client.schedule.getHandle(`${SCHEDULE_PREFIX}${id}`);
  const describe = async (id: string) => {
    try {
      return await budget().call('describe schedule', () => handleOf(id).describe());
    } catch (err) {
      if (err instanceof ScheduleNotFoundError) throw new ApiError(404, 'drill_not_found', `no drill ${id}`);
      throw err;
    }
  };

  app.post('/api/v1/drills', { config: { role: 'admin', api: API.create } }, async (req, reply) => {
    const parsed = DrillSpecSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'drill');
    const spec = parsed.data;
    const entry = findRunbook(spec.runbook);
    if (!entry) throw new ApiError(404, 'unknown_runbook', `no runbook named ${JSON.stringify(spec.runbook)}`);
    const shipped = entry.drills?.find((d) => d.name === spec.scenario);
    if (!shipped)
      throw new ApiError(404, 'unknown_scenario', `${entry.name} has no drill ${spec.scenario}`, { known: (entry.drills ?? []).map((d) => d.name) });
    // A scenario that expects a refusal targets a host of another role on purpose.
    const problem = targetProblem(entry, deps.inventory, spec.node_id, 'drill', !('failure' in shipped.expect));
    if (problem) throw problem;
    const { scenario, runInput } = drillOf(entry, shipped, spec.node_id, spec.input);
    // The schedule keeps the placeholders (each run fills its own); the input is checked as a run starting now would get it.
    const timed = fillTimePlaceholders(runInput, Date.now());
    if (timed.problems.length) {
      throw new ApiError(400, 'invalid_input', `invalid drill input for ${entry.name}: malformed time placeholder`, {
        fields: timed.problems.map((p) => ({ path: `input.${p.path}`, message: p.message })),
      });
    }
    const checked = entry.schema.safeParse({ ...timed.value, run_mode: 'drill' });
    if (!checked.success) throw invalidInput(checked.error, `drill input for ${entry.name}`);
    const input: DrillInput = {
      drill_id: spec.id,
      runbook: entry.name,
      workflow_type: entry.workflowType,
      scenario,
      node_id: spec.node_id,
      child_workflow_id: entry.workflowId(checked.data),
      run_input: runInput,
    };
    try {
      await budget().call('create schedule', () =>
        client.schedule.create({
          scheduleId: `${SCHEDULE_PREFIX}${spec.id}`,
          spec: spec.cron ? { cronExpressions: spec.cron } : { intervals: [{ every: spec.every! }] },
          action: { type: 'startWorkflow', workflowType: 'runbookDrill', args: [input], taskQueue: deps.taskQueue, workflowId: `drill/${spec.id}` },
          policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: spec.catchup_window },
          memo: { schedule: spec.cron ? { cron: spec.cron } : { every_ms: spec.every }, created_by: req.principal!.name },
          state: { paused: spec.paused, note: `drill ${scenario.name} of ${entry.name} on ${spec.node_id}` },
        }),
      );
    } catch (err) {
      if (err instanceof ScheduleAlreadyRunning) throw new ApiError(409, 'drill_exists', `drill ${spec.id} exists`);
      throw err;
    }
    req.log.info({ drill_id: spec.id, runbook: entry.name, scenario: scenario.name, node_id: spec.node_id }, 'drill scheduled');
    return reply.status(201).send(view(await describe(spec.id)));
  });

  app.get('/api/v1/drills', { config: { role: 'viewer', api: API.list } }, async () => {
    const ids = await budget().call('list schedules', async () => {
      const found: string[] = [];
      for await (const s of client.schedule.list()) if (s.scheduleId.startsWith(SCHEDULE_PREFIX)) found.push(s.scheduleId.slice(SCHEDULE_PREFIX.length));
      return found.sort();
    });
    return { drills: await Promise.all(ids.map(async (id) => view(await describe(id)))) };
  });

  app.get<{ Params: { id: string } }>('/api/v1/drills/:id', { config: { role: 'viewer', api: API.get } }, async (req) =>
    view(await describe(drillIdOf(req.params))),
  );

  app.delete<{ Params: { id: string } }>('/api/v1/drills/:id', { config: { role: 'admin', api: API.delete } }, async (req, reply) => {
    const id = drillIdOf(req.params);
    await describe(id);
    await budget().call('delete schedule', () => handleOf(id).delete());
    return reply.status(204).send();
  });

  app.post<{ Params: { id: string; action: string } }>('/api/v1/drills/:id/:action', { config: { role: 'admin', api: API.act } }, async (req, reply) => {
    const id = drillIdOf({ id: req.params.id });
    const action = req.params.action as (typeof ACTIONS)[number];
    if (!ACTIONS.includes(action)) throw new ApiError(404, 'unknown_action', `no drill action ${req.params.action}`, { known: ACTIONS });
    await describe(id);
    const handle = handleOf(id);
    // "trigger now" follows the drill's own overlap policy: never a second drill beside a running one.
    await budget().call(`${action} schedule`, () => (action === 'trigger' ? handle.trigger(ScheduleOverlapPolicy.SKIP) : handle[action](`${action} by API`)));
    return reply.status(202).send({ id, [action === 'trigger' ? 'triggered' : 'paused']: action === 'trigger' ? true : action === 'pause' });
  });

  app.get<{ Params: { id: string } }>('/api/v1/drills/:id/reports', { config: { role: 'viewer', api: API.reports } }, async (req) => {
    const id = drillIdOf(req.params);
    const { rows } = await deps.pool.query(
      `SELECT workflow_id, run_id, runbook, scenario, node_id, expected, outcome, passed, time_to_detect_ms, time_to_recover_ms, started_at, ended_at
         FROM drill_reports WHERE drill_id = $1 ORDER BY ended_at DESC LIMIT 100`,
      [id],
    );
    return { drill_id: id, reports: rows };
  });
}
