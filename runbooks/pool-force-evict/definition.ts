import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  POOL_EVICT_OUTCOMES,
  PoolEvictInputSchema,
  poolEvictRequestSignal,
  poolEvictWorkflowId,
  RUNBOOK_POOL_FORCE_EVICT,
  type PoolEvictRequestSignal,
} from './input';
import type * as workflow from './workflow';
import { POOL_EVICT_DRILLS } from './drills';

export const poolForceEvictRunbook: RunbookDefinition<typeof PoolEvictInputSchema> = {
  name: RUNBOOK_POOL_FORCE_EVICT,
  summary:
    'a runaway GPU orchestrator pool stopped: graceful API stop, then SIGTERM and an approved SIGKILL to PID-verified workers; or, in an OOM emergency, the largest pools first until GPU memory is under the threshold',
  workflowType: 'poolForceEvict' satisfies keyof typeof workflow,
  schema: PoolEvictInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: POOL_EVICT_OUTCOMES,
  // Ends a pool's processes, not a node's service: no disruption slot.
  disruption: 'none',
  targetRole: 'worker_compute',
  workflowId: (input) => poolEvictWorkflowId(input),
  // The pool's host is known only from the orchestrator's API, read by the run.
  nodeId: () => undefined,
  alert: () => ({ key: 'evict', xid: undefined }),
  drills: POOL_EVICT_DRILLS,
  // The drilled node hosts the drill's test pool; the run names the pool, not the node.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: poolEvictRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies PoolEvictRequestSignal,
  }),
};
