/**
 * The lab's own routes for the app runtime (/lab/v1/app-runtime, lab token):
 * inject seed 001's failure modes alone or chained, create a deploying instance
 * in one call (faults first, so the controller cannot finish before they bite),
 * and read the whole app-runtime state. Nothing here is recorded as the engine's.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendError, sendInvalid } from '../http-errors';
import type { AppRuntime } from './app-runtime';
import { applyFault, FaultError, FaultSchema, type Fault } from './faults';

const FaultList = z.object({ faults: z.array(FaultSchema).min(1).max(10) }).strict();
const InstanceBody = z
  .object({
    /** A given id replaces the instance that has it (a drill re-creates its instance on every run). */
    id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/)
      .optional(),
    project_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/)
      .default('proj-lab'),
    name: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/)
      .optional(),
    controller_node_id: z.string().default('dev-gpu-1'),
    /** Bind the controller allocation at once (default) or after the scheduler's usual delay. */
    bind_now: z.boolean().default(true),
    faults: z.array(FaultSchema).max(10).default([]),
  })
  .strict();

export function registerAppRuntimeAdmin(app: FastifyInstance, runtime: AppRuntime): void {
  const apply = (faults: Fault[]) => faults.map((f) => applyFault(runtime, f));

  app.post('/lab/v1/app-runtime/faults/:fault', async (req, reply) => {
    const { fault } = z.object({ fault: z.string() }).parse(req.params);
    const parsed = FaultSchema.safeParse({ ...((req.body as object | undefined) ?? {}), fault: fault.replace(/-/g, '_') });
    if (!parsed.success) return sendInvalid(reply, parsed.error);
    try {
      return { applied: apply([parsed.data]) };
    } catch (err) {
      if (err instanceof FaultError) return sendError(reply, 400, 'invalid_request', err.message);
      throw err;
    }
  });

  app.post('/lab/v1/app-runtime/faults', async (req, reply) => {
    const body = FaultList.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    try {
      return { applied: apply(body.data.faults) };
    } catch (err) {
      if (err instanceof FaultError) return sendError(reply, 400, 'invalid_request', err.message);
      throw err;
    }
  });

  app.post('/lab/v1/app-runtime/instances', async (req, reply) => {
    const body = InstanceBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    const b = body.data;
    const node = runtime.host(b.controller_node_id);
    if (!node?.isWorker) return sendError(reply, 400, 'invalid_request', `no worker_compute node ${b.controller_node_id}`);
    if (b.id) runtime.platform.removeInstance(b.id);
    const name = b.name ?? `slurm-${Math.random().toString(36).slice(2, 8)}`;
    if (runtime.platform.findByName(b.project_id, name)) return sendError(reply, 409, 'app_instance_exists', `an app instance named ${name} already exists`);
    let applied: Record<string, unknown>[];
    try {
      applied = apply(b.faults);
    } catch (err) {
      if (err instanceof FaultError) return sendError(reply, 400, 'invalid_request', err.message);
      throw err;
    }
    const created = runtime.createInstance(
      { id: b.id, project_id: b.project_id, app_slug: 'slurm-reference', name, controller_node_id: b.controller_node_id },
      b.bind_now,
    );
    return reply
      .code(201)
      .send({ instance: created.instance, allocation: created.allocation, members: runtime.membersView(created.instance), faults: applied });
  });

  app.get('/lab/v1/app-runtime/state', async () => runtime.snapshot());
}
