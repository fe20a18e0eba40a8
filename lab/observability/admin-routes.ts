/**
 * The lab's incident injection (/lab/v1/observability, lab token via
 * admin-api.ts's hook): list seed 000's scenarios, and write one into the log
 * and trace stores for a correlation id, with noise and optional evidence gaps.
 */
import type { FastifyInstance } from 'fastify';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { HostRole } from '../../domain/host-roles';
import { sendError, sendInvalid } from '../http-errors';
import { EVIDENCE_GAPS, findScenario, INCIDENT_SCENARIOS } from './incident-scenarios';
import { injectIncident, newTraceId } from './inject-incident';
import type { LabObservability } from './lab-observability';

/** Room after an incident's last event for its noise, so a default query window (ending now) holds it all. */
const SETTLE_MS = 120_000;

const InjectBody = z
  .object({
    scenario: z.string().min(1),
    correlation_id: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/)
      .optional(),
    trace_id: z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'expected 32 lowercase hex characters')
      .optional(),
    /** When the incident began (default: early enough that it ended two minutes ago). */
    started_at: z.string().datetime({ offset: true }).optional(),
    omit: z.array(z.enum(EVIDENCE_GAPS)).max(2).default([]),
    noise_lines: z.number().int().min(0).max(500).default(24),
    worker_node_id: z.string().default('dev-gpu-1'),
  })
  .strict();

export function registerIncidentAdmin(app: FastifyInstance, obs: LabObservability): void {
  app.get('/lab/v1/observability/incidents', async () => ({
    scenarios: INCIDENT_SCENARIOS.map((s) => ({
      id: s.id,
      failure_class: s.failure_class,
      first_failing_role: s.first_failing_role,
      summary: s.summary,
      host_state: s.host_state ?? null,
    })),
    evidence_gaps: EVIDENCE_GAPS,
  }));

  app.post('/lab/v1/observability/incidents', async (req, reply) => {
    const body = InjectBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    const b = body.data;
    const scenario = findScenario(b.scenario);
    if (!scenario) return sendError(reply, 404, 'scenario_not_found', `no incident scenario ${b.scenario}; GET /lab/v1/observability/incidents lists them`);
    if (obs.roleOf(b.worker_node_id) !== 'worker_compute') return sendError(reply, 400, 'invalid_request', `no worker_compute host ${b.worker_node_id}`);
    const hosts: Record<HostRole, string> = { ...obs.hostsByRole, worker_compute: b.worker_node_id };
    const lastMs = Math.max(...scenario.events.map((e) => e.after_ms));
    const startAt = b.started_at ? new Date(b.started_at) : new Date(Date.now() - lastMs - SETTLE_MS);
    const injected = injectIncident(obs.logs, obs.traces, {
      scenario,
      correlationId: b.correlation_id ?? `c-${randomBytes(8).toString('hex')}`,
      traceId: b.trace_id ?? newTraceId(),
      startAt,
      omit: b.omit,
      noiseLines: b.noise_lines,
      hosts,
    });
    const state = scenario.host_state;
    if (state && obs.startProcess) {
      const nodeId = hosts[state.role];
      injected.started_process = { node_id: nodeId, pid: obs.startProcess(nodeId, state.user, state.args).pid, args: state.args };
    }
    return reply.code(201).send(injected);
  });
}
