/**
 * What incident triage reads, as the engine sees it once it left Loki or Tempo:
 * structured log events and trace spans, each with the host role and host that
 * produced it when the producer said so. Missing fields stay missing: a log line
 * without `host_role` is evidence of an observability gap, not of a role.
 */
import { z } from 'zod';
import { HostRoleSchema } from './host-roles';

/** The `job` label of the engine's own log streams (runtime/log-shipping.ts): how incident triage finds what the engine did. */
export const ENGINE_LOG_JOB = 'gpuaas-runbooks';

export const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'fatal'] as const;

export const LogEventSchema = z.object({
  /** When the line was written (RFC 3339, from the entry's timestamp). */
  ts: z.string(),
  /** The emitting service (`gpuaas-api`, `node-agent`, `slurmctld`, ...), from the stream's `service` label. */
  service: z.string(),
  host_role: HostRoleSchema.optional(),
  host_name: z.string().optional(),
  node_id: z.string().optional(),
  correlation_id: z.string().optional(),
  trace_id: z.string().optional(),
  level: z.enum(LOG_LEVELS),
  msg: z.string(),
  /** The failing component as the service names it (registry, runner, slurmctld, node-agent, ...). */
  component: z.string().optional(),
  /** A short machine-readable cause (`image_pull_failed`, `cert_expired`, ...). */
  error: z.string().optional(),
  app_slug: z.string().optional(),
  /** The platform app instance the line is about, when it is about one (a next step can then name it). */
  project_id: z.string().optional(),
  app_instance_id: z.string().optional(),
});
export type LogEvent = z.infer<typeof LogEventSchema>;

export const SpanSchema = z.object({
  trace_id: z.string(),
  span_id: z.string(),
  parent_span_id: z.string().optional(),
  /** `service.name` of the span's resource. */
  service: z.string(),
  name: z.string(),
  start: z.string(),
  end: z.string(),
  status: z.enum(['ok', 'error', 'unset']),
  status_message: z.string().optional(),
  host_role: HostRoleSchema.optional(),
  host_name: z.string().optional(),
  /** Span attributes other than the ones above, flattened to strings. */
  attributes: z.record(z.string()).default({}),
});
export type Span = z.infer<typeof SpanSchema>;
