import type { Logger } from 'pino';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { EvidenceStore } from '../evidence/evidence-store';
import type { HostAccess } from '../host/host-access';
import { createLeaderLockActivities } from './leader-lock-activities';
import { createLeaderStatusActivities } from './leader-status-activities';
import { createReplicaHostActivities } from './replica-host-activities';

/** What leader recovery acts through: the API's view of the leader, the lock in SQL, the replica hosts over SSH. */
export function createLeaderRecoveryActivities(deps: { clusters: readonly OrchestratorCluster[]; hosts: HostAccess; evidence: EvidenceStore; logger: Logger }) {
  return {
    ...createLeaderStatusActivities({ clusters: deps.clusters }),
    ...createLeaderLockActivities({ clusters: deps.clusters, logger: deps.logger }),
    ...createReplicaHostActivities({ hosts: deps.hosts, evidence: deps.evidence }),
  };
}
