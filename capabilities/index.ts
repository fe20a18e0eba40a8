import type { Logger } from 'pino';
import type { Pool } from 'pg';
import type { Client } from '@temporalio/client';
import type { BudgetConfig } from '../domain/disruption';
import type { Inventory } from '../domain/inventory';
import type { OrchestratorCluster } from '../domain/orchestrator';
import { createAlertCheckActivities, type AlertingEndpoints } from './alerting/alert-check-activities';
import { AppPlatformClient } from './app-runtime/app-platform-client';
import { createAppPlatformActivities } from './app-runtime/app-platform-activities';
import { createControllerActivities } from './app-runtime/controller-activities';
import { createNodeAgentActivities } from './app-runtime/node-agent-activities';
import { createApprovalActivities, type ApprovalSettings } from './approvals/approval-activities';
import { createBudgetActivities } from './budget/budget-activities';
import { createDrillActivities } from './drill/drill-activities';
import { createEngineActivities } from './evidence/engine-activities';
import { EvidenceStore } from './evidence/evidence-store';
import { PlanStore } from './evidence/plan-store';
import { createDriverActivities } from './gpu/driver-activities';
import { createGpuActivities } from './gpu/gpu-activities';
import { readNodeLeaseHolders } from './budget/node-lease-holders';
import { createTriageActivities, type LogSource, type TraceSource } from './triage/triage-activities';
import { createInventoryActivities } from './inventory/inventory-activities';
import { createOrchestratorActivities } from './orchestrator/orchestrator-activities';
import { createPoolProcessActivities } from './orchestrator/pool-process-activities';
import { createLeaderRecoveryActivities } from './orchestrator/leader-recovery-activities';
import { createDlqActivities } from './orchestrator/dlq-activities';
import { createModelArtifactActivities } from './orchestrator/model-artifact-activities';
import { createRollingUpgradeActivities } from './orchestrator/rolling-upgrade-activities';
import { HostAccess } from './host/host-access';
import { HostJobs } from './host/host-jobs';
import { createPlatformActivities } from './platform/platform-activities';
import type { PlatformClient } from './platform/platform-client';
import type { SshExecutor } from './host/ssh-executor';

export interface ActivityDeps {
  inventory: Inventory;
  ssh: SshExecutor;
  platform: PlatformClient;
  /** GPU orchestrator clusters (replica APIs, Redis, SQL) the orchestrator runbooks act on. */
  orchestrators: OrchestratorCluster[];
  pool: Pool;
  logger: Logger;
  /** Disruption ledgers are workflows: the budget activities signal them. */
  temporal: Client;
  budgets: BudgetConfig;
  ledgerTaskQueue: string;
  /** Where drills inject their faults (the lab's admin API, a staging hook); unset: no drills. */
  faultInjectionUrl?: string;
  faultInjectionToken?: string;
  /** Approval rules this worker's runs apply: minimums, signal checks, escalation webhooks. */
  approvals: ApprovalSettings;
  /** Where incident triage reads logs and traces (LOKI_URL, TEMPO_URL); unset: triage fails saying so. */
  logs?: LogSource;
  traces?: TraceSource;
  /** Prometheus and Alertmanager the alert check reads; unset: that runbook refuses to run. */
  alerting?: AlertingEndpoints;
}

/**
 * Every activity, built from its clients so workers and tests inject their own.
 * Grouped by capability: a workflow proxies each group with its own type
 * (`proxyActivities<PlatformActivities>(...)`), so `acts.platform.cordonNode`
 * leads to capabilities/platform/platform-activities.ts. Names are unique
 * across groups: Temporal registers activities by name.
 */
export function createActivities(deps: ActivityDeps) {
  const evidence = new EvidenceStore(deps.pool);
  const hosts = new HostAccess({ inventory: deps.inventory, ssh: deps.ssh, evidence, logger: deps.logger });
  const jobs = new HostJobs({ hosts, evidence, logger: deps.logger });
  const appPlatform = new AppPlatformClient(deps.platform);
  return {
    ...createEngineActivities({ evidence, plans: new PlanStore(deps.pool) }),
    ...createApprovalActivities(deps.approvals),
    ...createInventoryActivities({ inventory: deps.inventory }),
    ...createGpuActivities({ hosts, jobs, nodeHolders: (nodeId) => readNodeLeaseHolders(deps.temporal, nodeId) }),
    ...createDriverActivities({ hosts, jobs }),
    ...createPlatformActivities({ platform: deps.platform, evidence, logger: deps.logger }),
    ...createAppPlatformActivities({ appPlatform, evidence }),
    ...createControllerActivities({ hosts }),
    ...createNodeAgentActivities({ hosts, appPlatform }),
    ...createBudgetActivities({
      inventory: deps.inventory,
      budgets: deps.budgets,
      platform: deps.platform,
      temporal: deps.temporal,
      ledgerTaskQueue: deps.ledgerTaskQueue,
    }),
    ...createTriageActivities({ logs: deps.logs, traces: deps.traces, hosts }),
    ...createOrchestratorActivities({ clusters: deps.orchestrators, logger: deps.logger }),
    ...createPoolProcessActivities({ hosts, logger: deps.logger }),
    ...createDrillActivities({
      temporal: deps.temporal,
      pool: deps.pool,
      faultInjectionUrl: deps.faultInjectionUrl,
      faultInjectionToken: deps.faultInjectionToken,
    }),
    ...createLeaderRecoveryActivities({ clusters: deps.orchestrators, hosts, evidence, logger: deps.logger }),
    ...createDlqActivities({ clusters: deps.orchestrators, logger: deps.logger }),
    ...createModelArtifactActivities({ hosts }),
    ...createRollingUpgradeActivities({ hosts, clusters: deps.orchestrators, logger: deps.logger }),
    ...createAlertCheckActivities({ alerting: deps.alerting, logger: deps.logger }),
  };
}

export type RunbookActivities = ReturnType<typeof createActivities>;
