import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  ROLLING_UPGRADE_OUTCOMES,
  RUNBOOK_ROLLING_UPGRADE,
  RollingUpgradeInputSchema,
  rollingUpgradeRequestSignal,
  rollingUpgradeWorkflowId,
  type RollingUpgradeRequestSignal,
} from './input';
import type * as workflow from './workflow';
import { ROLLING_UPGRADE_DRILLS } from './drills';

export const drainAndRollingUpgradeRunbook: RunbookDefinition<typeof RollingUpgradeInputSchema> = {
  name: RUNBOOK_ROLLING_UPGRADE,
  summary:
    "the orchestrator's replicas upgraded node by node behind maintenance-mode drain (the consumer group's position never moved), pools back one at a time, every job of the window processed once; rolled back to the previous version when a node's upgrade fails",
  workflowType: 'drainAndRollingUpgrade' satisfies keyof typeof workflow,
  schema: RollingUpgradeInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: ROLLING_UPGRADE_OUTCOMES,
  disruption: 'node',
  // The replicas run on control hosts; the run names a cluster, not a node (no target check before start).
  targetRole: 'platform_control',
  workflowId: (input) => rollingUpgradeWorkflowId(input.cluster),
  nodeId: () => undefined,
  // One upgrade per target version: a repeat for another version is delivered to the open run, which records it.
  alert: (input) => ({ key: `upgrade-${input.target_version}`, xid: undefined }),
  drills: ROLLING_UPGRADE_DRILLS,
  // The drilled node is a replica host; the run names its cluster.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: rollingUpgradeRequestSignal.name,
    arg: {
      source: input.source,
      target_version: input.target_version,
      correlation_id: correlationId,
      received_at: receivedAt,
    } satisfies RollingUpgradeRequestSignal,
  }),
};
