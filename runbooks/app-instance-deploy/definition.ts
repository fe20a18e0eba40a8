import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  APP_INSTANCE_DEPLOY_OUTCOMES,
  AppInstanceDeployInputSchema,
  appInstanceDeployWorkflowId,
  deployRequestSignal,
  RUNBOOK_APP_INSTANCE_DEPLOY,
  type DeployRequest,
} from './input';
import { APP_INSTANCE_DEPLOY_DRILLS } from './drills';
import type * as workflow from './workflow';

export const appInstanceDeployRunbook = {
  name: RUNBOOK_APP_INSTANCE_DEPLOY,
  summary: 'a slurm-reference app instance to running, new or stuck in deploying: the six known failure modes diagnosed and fixed, owning boundary first',
  workflowType: 'appInstanceDeploy' satisfies keyof typeof workflow,
  schema: AppInstanceDeployInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: APP_INSTANCE_DEPLOY_OUTCOMES,
  disruption: 'none',
  targetRole: 'worker_compute',
  targetAction: 'read_node_agent',
  drills: APP_INSTANCE_DEPLOY_DRILLS,
  // The drilled node is the one the scenario's instance is bound to; the input names the instance, not the node.
  drillInput: (_nodeId, scenarioInput) => scenarioInput,
  workflowId: (input) => appInstanceDeployWorkflowId(input.project_id, input.app_instance_id),
  // A new deploy names the worker its controller allocation lands on; a takeover finds it from the allocation.
  nodeId: (input) => input.create?.controller_node_id,
  alert: () => ({ key: 'deploy', xid: undefined }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: deployRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies DeployRequest,
  }),
} satisfies RunbookDefinition<typeof AppInstanceDeployInputSchema>;
