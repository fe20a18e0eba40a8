import type { Logger } from 'pino';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { HostAccess } from '../host/host-access';
import { createDrainActivities } from './drain-activities';
import { createJobLedgerActivities } from './job-ledger-activities';
import { createReplicaUpgradeActivities } from './replica-upgrade-activities';
import { createStreamActivities } from './stream-activities';

/** What the orchestrator's rolling upgrade adds to the orchestrator activities: one entry for the composition. */
export function createRollingUpgradeActivities(deps: { hosts: HostAccess; clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  return {
    ...createStreamActivities(deps),
    ...createDrainActivities(deps),
    ...createReplicaUpgradeActivities(deps),
    ...createJobLedgerActivities(deps),
  };
}
