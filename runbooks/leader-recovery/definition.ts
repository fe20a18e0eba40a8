import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  LEADER_RECOVERY_OUTCOMES,
  LeaderRecoveryInputSchema,
  RUNBOOK_LEADER_RECOVERY,
  leaderRecoveryRequestSignal,
  leaderRecoveryWorkflowId,
  type LeaderRecoveryRequestSignal,
} from './input';
import type * as workflow from './workflow';
import { LEADER_RECOVERY_DRILLS } from './drills';

export const leaderRecoveryRunbook: RunbookDefinition<typeof LeaderRecoveryInputSchema> = {
  name: RUNBOOK_LEADER_RECOVERY,
  summary:
    'a GPU orchestrator cluster with no live leader: confirmed dead, a replica restarted for a takeover, and only a lock proven stale freed by ending its session, behind two approvers',
  workflowType: 'leaderRecovery' satisfies keyof typeof workflow,
  schema: LeaderRecoveryInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: LEADER_RECOVERY_OUTCOMES,
  disruption: 'none',
  // The replicas run on control hosts; the run names its cluster, not a node.
  targetRole: 'platform_control',
  workflowId: (input) => leaderRecoveryWorkflowId(input.cluster),
  nodeId: () => undefined,
  alert: () => ({ key: 'recover', xid: undefined }),
  drills: LEADER_RECOVERY_DRILLS,
  // The drilled node is a replica host; the run names its cluster.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: leaderRecoveryRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies LeaderRecoveryRequestSignal,
  }),
};
