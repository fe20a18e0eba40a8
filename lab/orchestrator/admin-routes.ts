/**
 * The lab's own routes for the orchestrator (/lab/v1/orchestrator, lab token via
 * admin-api.ts's hook): inject faults, add jobs as a producer would, read the
 * whole orchestrator state and the record of every Redis command.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendError, sendInvalid } from '../http-errors';
import { IDEMPOTENCY_HEADER } from '../idempotency';
import { applyFault, FaultError, FaultSchema } from './faults';
import { MODELS, type OrchestratorLab } from './orchestrator-lab';

const JobsBody = z
  .object({
    count: z.number().int().min(1).max(1000).default(1),
    model: z.enum(MODELS).default('llama-3-8b'),
    /** Job ids are PREFIX-1 ... PREFIX-count. */
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/)
      .default('job'),
  })
  .strict();

export function registerOrchestratorAdmin(app: FastifyInstance, lab: OrchestratorLab): void {
  // A drill retries its injection (a hook that answers late may outlast one attempt) under the same Idempotency-Key:
  // the repeat gets the first one's answer, waited for while it is under way, and nothing is injected twice.
  const injections = new Map<string, Promise<Record<string, unknown>>>();
  app.post('/lab/v1/orchestrator/faults/:fault', async (req, reply) => {
    const { fault } = z.object({ fault: z.string() }).parse(req.params);
    const parsed = FaultSchema.safeParse({ ...((req.body as object | undefined) ?? {}), fault: fault.replace(/-/g, '_') });
    if (!parsed.success) return sendInvalid(reply, parsed.error);
    const header = req.headers[IDEMPOTENCY_HEADER];
    const key = typeof header === 'string' ? `${fault} ${header}` : undefined;
    try {
      const applying = (key && injections.get(key)) || applyFault(lab, parsed.data);
      if (key) injections.set(key, applying);
      return { applied: await applying };
    } catch (err) {
      // Only a refusal is the answer for good; after an internal error a repeat applies it again.
      if (key && !(err instanceof FaultError || err instanceof RangeError)) injections.delete(key);
      if (err instanceof FaultError || err instanceof RangeError) return sendError(reply, 400, 'invalid_request', err.message);
      throw err;
    }
  });

  app.post('/lab/v1/orchestrator/jobs', async (req, reply) => {
    const body = JobsBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    const jobs: { job_id: string; stream_id: string }[] = [];
    for (let i = 1; i <= body.data.count; i++) {
      const job_id = `${body.data.prefix}-${i}`;
      jobs.push({ job_id, stream_id: await lab.addJob({ job_id, model: body.data.model }) });
    }
    return reply.code(201).send({ jobs });
  });

  app.get('/lab/v1/orchestrator/state', async () => lab.snapshot());

  app.get('/lab/v1/orchestrator/records', async () => ({ redis_commands: lab.commands.list() }));
}
