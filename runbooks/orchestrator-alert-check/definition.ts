import type { RunbookDefinition } from '../../domain/runbook-definition';
import { ALERT_CHECK_DRILLS } from './drills';
import {
  ALERT_CHECK_OUTCOMES,
  AlertCheckInputSchema,
  alertCheckRequestSignal,
  alertCheckWorkflowId,
  RUNBOOK_ORCHESTRATOR_ALERT_CHECK,
  type AlertCheckRequestSignal,
} from './input';
import type * as workflow from './workflow';

export const orchestratorAlertCheckRunbook: RunbookDefinition<typeof AlertCheckInputSchema> = {
  name: RUNBOOK_ORCHESTRATOR_ALERT_CHECK,
  summary:
    "the GPU orchestrator's alert path checked end to end: the rules loaded in Prometheus, routed by Alertmanager, each expected alert firing, active and notified to on-call; nothing changed",
  workflowType: 'orchestratorAlertCheck' satisfies keyof typeof workflow,
  schema: AlertCheckInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: ALERT_CHECK_OUTCOMES,
  // Reads Prometheus and Alertmanager only.
  disruption: 'none',
  // The orchestrator's replicas run on control hosts; the run itself touches no host.
  targetRole: 'platform_control',
  workflowId: (input) => alertCheckWorkflowId(input.cluster),
  nodeId: () => undefined,
  alert: () => ({ key: 'alert-check', xid: undefined }),
  drills: ALERT_CHECK_DRILLS,
  // The drill's node is where it is scheduled; the run names the cluster, not a node.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: alertCheckRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies AlertCheckRequestSignal,
  }),
};
