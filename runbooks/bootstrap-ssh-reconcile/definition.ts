import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  BOOTSTRAP_SSH_RECONCILE_OUTCOMES,
  BootstrapSshReconcileInputSchema,
  bootstrapSshReconcileWorkflowId,
  reconcileRequestSignal,
  RUNBOOK_BOOTSTRAP_SSH_RECONCILE,
  type ReconcileRequest,
} from './input';
import type * as workflow from './workflow';

export const bootstrapSshReconcileRunbook: RunbookDefinition<typeof BootstrapSshReconcileInputSchema> = {
  name: RUNBOOK_BOOTSTRAP_SSH_RECONCILE,
  summary: "an app instance's bootstrap SSH trust re-applied through the node-agent; a task stuck queued repairs the agent first",
  workflowType: 'bootstrapSshReconcile' satisfies keyof typeof workflow,
  schema: BootstrapSshReconcileInputSchema,
  supportedRunModes: ['live', 'plan'],
  outcomes: BOOTSTRAP_SSH_RECONCILE_OUTCOMES,
  disruption: 'none',
  targetRole: 'worker_compute',
  workflowId: (input) => bootstrapSshReconcileWorkflowId(input.app_instance_id),
  // The worker is the controller allocation's node, found from the platform at run time.
  nodeId: () => undefined,
  alert: () => ({ key: 'reconcile', xid: undefined }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: reconcileRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies ReconcileRequest,
  }),
};
