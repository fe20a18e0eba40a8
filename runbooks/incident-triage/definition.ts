import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  INCIDENT_TRIAGE_OUTCOMES,
  IncidentTriageInputSchema,
  RUNBOOK_INCIDENT_TRIAGE,
  incidentTriageWorkflowId,
  triageRequestSignal,
  type TriageRequestSignal,
} from './input';
import type * as workflow from './workflow';
import { INCIDENT_TRIAGE_DRILLS } from './drills';

export const incidentTriageRunbook: RunbookDefinition<typeof IncidentTriageInputSchema> = {
  name: RUNBOOK_INCIDENT_TRIAGE,
  summary:
    'an incident known only by its correlation_id placed on its first failing boundary (platform_control, app_control or worker_compute) from logs and traces, downstream impact apart, host roles validated; read only',
  workflowType: 'incidentTriage' satisfies keyof typeof workflow,
  schema: IncidentTriageInputSchema,
  supportedRunModes: ['live', 'drill'],
  outcomes: INCIDENT_TRIAGE_OUTCOMES,
  disruption: 'none',
  // It acts on no node: a reported host is evidence to check, not a target, so no role gate applies at the API.
  targetRole: 'platform_control',
  workflowId: (input) => incidentTriageWorkflowId(input.correlation_id),
  nodeId: () => undefined,
  alert: () => ({ key: 'triage', xid: undefined }),
  drills: INCIDENT_TRIAGE_DRILLS,
  // The drilled node is where the drill is scheduled from; the run names its correlation_id.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: triageRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies TriageRequestSignal,
  }),
};
