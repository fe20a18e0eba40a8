import type { RunbookDefinition } from '../../domain/runbook-definition';
import {
  DLQ_REPLAY_OUTCOMES,
  DlqReplayInputSchema,
  RUNBOOK_DLQ_REPLAY,
  dlqReplayRequestSignal,
  dlqReplayWorkflowId,
  type DlqReplayRequestSignal,
} from './input';
import type * as workflow from './workflow';
import { DLQ_REPLAY_DRILLS } from './drills';

export const dlqReplayRunbook: RunbookDefinition<typeof DlqReplayInputSchema> = {
  name: RUNBOOK_DLQ_REPLAY,
  summary:
    'a DLQ storm recovered: processing paused, causes sampled and checked fixed (or approved), a canary then a rate-limited batch replayed once each, removed from the DLQ only once processed',
  workflowType: 'dlqReplay' satisfies keyof typeof workflow,
  schema: DlqReplayInputSchema,
  supportedRunModes: ['live', 'plan', 'drill'],
  outcomes: DLQ_REPLAY_OUTCOMES,
  disruption: 'none',
  // The orchestrator is a control component; the run names no node (its artifact reads are on the pool hosts).
  targetRole: 'platform_control',
  workflowId: (input) => dlqReplayWorkflowId(input.dlq_stream),
  nodeId: () => undefined,
  // Every trigger for the same DLQ asks for the same recovery.
  alert: () => ({ key: 'replay', xid: undefined }),
  drills: DLQ_REPLAY_DRILLS,
  // The drilled node is the replica host whose process dies holding the stale messages; the run names its DLQ.
  drillInput: (_nodeId, input) => input,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: dlqReplayRequestSignal.name,
    arg: { source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies DlqReplayRequestSignal,
  }),
};
