import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { createActivities, type RunbookActivities } from '../capabilities';
import { PlatformClient } from '../capabilities/platform/platform-client';
import { createSshExecutor } from '../capabilities/host/ssh-executor';
import { LokiClient } from '../capabilities/observability-query/loki-client';
import { TempoClient } from '../capabilities/observability-query/tempo-client';
import { lokiLogSource, tempoTraceSource } from '../capabilities/triage/triage-activities';
import type { Client } from '@temporalio/client';
import type { AlertingEndpoints } from '../capabilities/alerting/alert-check-activities';
import type { ApprovalSettings } from '../capabilities/approvals/approval-activities';
import type { BudgetConfig } from '../domain/disruption';
import type { Inventory } from '../domain/inventory';
import type { OrchestratorCluster } from '../domain/orchestrator';

export interface ActivityWiring {
  inventory: Inventory;
  sshPrivateKey: Buffer | string;
  /** Same shape as the `ssh` section of the config. */
  ssh: { connectTimeoutMs: number; commandTimeoutMs: number; outputLimitBytes: number };
  platformUrl: string;
  platformToken: string;
  /** The GPU orchestrator clusters its runbooks act on (default none). */
  orchestrators?: OrchestratorCluster[];
  pool: Pool;
  logger: Logger;
  temporal: Client;
  budgets: BudgetConfig;
  /** The task queue the disruption ledgers run on; in production the workers' own. */
  ledgerTaskQueue: string;
  faultInjectionUrl?: string;
  /** Bearer token of the fault-injection endpoint (the lab token, or a staging hook's). */
  faultInjectionToken?: string;
  /** Default: signals on, checked against no one (so refused), the built-in minimums, no escalation webhooks. */
  approvals?: ApprovalSettings;
  /** Loki and Tempo for incident triage (LOKI_URL, TEMPO_URL, or the lab's). */
  lokiUrl?: string;
  tempoUrl?: string;
  /** Prometheus and Alertmanager for the alert check (PROMETHEUS_URL, ALERTMANAGER_URL, or the lab's). */
  alerting?: AlertingEndpoints;
}

const NO_APPROVAL_SETTINGS: ApprovalSettings = { signals: true, minApprovals: {}, escalationWebhooks: {} };

/** Builds the real clients and the activities on top of them. The one place they are wired. */
export function composeActivities(w: ActivityWiring): RunbookActivities {
  return createActivities({
    inventory: w.inventory,
    ssh: createSshExecutor({ privateKey: w.sshPrivateKey, ...w.ssh }),
    platform: new PlatformClient({ baseUrl: w.platformUrl, token: w.platformToken }),
    orchestrators: w.orchestrators ?? [],
    pool: w.pool,
    logger: w.logger,
    temporal: w.temporal,
    budgets: w.budgets,
    ledgerTaskQueue: w.ledgerTaskQueue,
    faultInjectionUrl: w.faultInjectionUrl,
    faultInjectionToken: w.faultInjectionToken,
    approvals: w.approvals ?? NO_APPROVAL_SETTINGS,
    logs: w.lokiUrl ? lokiLogSource(new LokiClient({ baseUrl: w.lokiUrl })) : undefined,
    traces: w.tempoUrl ? tempoTraceSource(new TempoClient({ baseUrl: w.tempoUrl })) : undefined,
    alerting: w.alerting,
  });
}
