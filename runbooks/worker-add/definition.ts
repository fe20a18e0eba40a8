import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  RUNBOOK_WORKER_ADD,
  WORKER_ADD_OUTCOMES,
  WorkerAddInputSchema,
  workerAddRequestSignal,
  workerAddWorkflowId,
  type WorkerAddRequestSignal,
} from './input';
import type * as workflow from './workflow';

export const workerAddRunbook = {
  name: RUNBOOK_WORKER_ADD,
  summary: 'a GPU node added to a running slurm-reference instance through a member operation, verified in slurmctld, removed again if it does not verify',
  workflowType: 'workerAdd' satisfies keyof typeof workflow,
  schema: WorkerAddInputSchema,
  supportedRunModes: ['live', 'plan'],
  outcomes: WORKER_ADD_OUTCOMES,
  disruption: 'node',
  targetRole: 'worker_compute',
  targetAction: 'read_node_agent',
  workflowId: (input) => workerAddWorkflowId(input.app_instance_id, input.node_id),
  nodeId: (input) => input.node_id,
  alert: () => ({ key: 'add', xid: undefined }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: workerAddRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies WorkerAddRequestSignal,
  }),
} satisfies RunbookDefinition<typeof WorkerAddInputSchema>;
