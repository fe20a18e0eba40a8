import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { HostRoleSchema } from '../../domain/host-roles';
import { NodeIdSchema } from '../../domain/inventory';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';
import { TRIAGE_OUTCOMES } from '../../domain/incident-triage';

export const RUNBOOK_INCIDENT_TRIAGE = 'incident-triage';

/** Ids as error envelopes carry them; nothing that could close a LogQL string or a path. */
const EvidenceId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'letters, digits, ".", "_", ":" and "-" (at most 128)');

export const IncidentTriageInputSchema = z
  .object({
    /** From the user's, API's, CLI's or SDK's error envelope: the only thing support must have. */
    correlation_id: EvidenceId,
    trace_id: z
      .string()
      .regex(/^[0-9a-f]{16}([0-9a-f]{16})?$/, 'a trace id: 16 or 32 lowercase hex digits')
      .optional(),
    /** What the reporter knows already; checked against the inventory and the evidence, never trusted over them. */
    host_role: HostRoleSchema.optional(),
    host_name: safeText(253).optional(),
    node_id: NodeIdSchema.optional(),
    app_slug: safeText(100).optional(),
    /** The effective runtime boundary, recorded in the report as given. */
    operating_mode: safeText(100).optional(),
    control_plane_scope: safeText(100).optional(),
    runtime_backend: safeText(100).optional(),
    tenant_boundary_mode: safeText(100).optional(),
    /** How far before now the logs are read; the incident must lie inside it. */
    lookback: boundedDuration('6h', '1m', '30d'),
    /** Before the first failure, how far logs of the failing services are read for lines that lost their correlation_id. */
    uncorrelated_window: boundedDuration('2m', '0s', '1h'),
    /**
     * Most log lines read per query. The lines travel in the run's history (Temporal caps a
     * payload at 2 MB): four queries of 1,000 lines of a few hundred bytes stay well under it.
     */
    log_limit: z.number().int().min(10).max(1000).default(500),
    /** How long the offered next step waits for an approver before the run ends without it. */
    approval_timeout: boundedDuration('30m', '1s', '7d'),
    source: safeText(200).default('api'),
    run_mode: RunModeSchema.default('live'),
  })
  .strict();
export type IncidentTriageRequest = z.input<typeof IncidentTriageInputSchema>;
export type IncidentTriageInput = z.output<typeof IncidentTriageInputSchema>;

export const INCIDENT_TRIAGE_OUTCOMES = [...TRIAGE_OUTCOMES, 'cancelled', 'failed'] as const;

/** Another report of the same correlation_id while its triage runs: joins it and is recorded. */
export interface TriageRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const triageRequestSignal = defineSignal<[TriageRequestSignal]>('triageRequest');

export function incidentTriageWorkflowId(correlationId: string): string {
  return `incident-triage/${correlationId}`;
}
