import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { HostRole } from '../domain/host-roles';
import type { Inventory } from '../domain/inventory';
import { findHost } from '../domain/inventory';
import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors';
import { createEngineActivities } from './evidence/engine-activities';
import { EvidenceStore } from './evidence/evidence-store';
import { createGpuActivities } from './gpu/gpu-activities';
import { HostAccess } from './host-access';
import { HostJobs } from './host/host-jobs';
import { createPlatformActivities } from './platform/platform-activities';
import type { PlatformClient } from './platform/platform-client';
import type { SshExecutor } from './ssh/ssh-executor';

export interface ActivityDeps {
  inventory: Inventory;
  ssh: SshExecutor;
  platform: PlatformClient;
  pool: Pool;
  logger: Logger;
}

/** All activities, built from their clients so workers and tests inject their own. */
export function createActivities(deps: ActivityDeps) {
  const evidence = new EvidenceStore(deps.pool);
  const hosts = new HostAccess({ inventory: deps.inventory, ssh: deps.ssh, evidence, logger: deps.logger });
  const jobs = new HostJobs({ hosts, evidence, logger: deps.logger });
  return {
    ...createEngineActivities({ evidence }),
    ...createGpuActivities({ hosts, jobs }),
    ...createPlatformActivities({ platform: deps.platform, evidence, logger: deps.logger }),
    /** Inventory lookup without touching the host: identity and role for the run's target. */
    async describeHost(nodeId: string): Promise<{ node_id: string; hostname: string; role: HostRole; gpu_count: number }> {
      const host = findHost(deps.inventory, nodeId);
      if (!host) {
        throw ApplicationFailure.create({ type: ErrorType.HostNotInInventory, message: `node ${nodeId} is not in the inventory`, nonRetryable: true });
      }
      return { node_id: host.node_id, hostname: host.hostname, role: host.role, gpu_count: host.gpu_count };
    },
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
