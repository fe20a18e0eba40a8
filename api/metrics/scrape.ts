import type { FastifyBaseLogger } from 'fastify';
import type { Registry } from 'prom-client';
import type { ApiDeps } from '../server';
import { TemporalBudget, type PendingCalls } from '../temporal-call';
import { BudgetGauges } from './budget-gauges';
import { PendingApprovalGauges } from './pending-approval-gauges';
import { RunRecordMetrics } from './run-records';
import { SourceHealth } from './source-health';

/** Temporal is asked at most this often, however many Prometheus servers scrape (each reading fans out to one query per ledger or waiting run). */
export const TEMPORAL_REFRESH_MS = 5_000;
/** What one Temporal reading may take; Prometheus' default scrape timeout is 10 s. */
const TEMPORAL_READ_MS = 3_000;

/**
 * What a scrape reads before the registry is rendered: the engine's tables every time, the
 * ledgers and waiting runs no more often than TEMPORAL_REFRESH_MS. Scrapes that arrive
 * while a reading runs share it, so rows are never read twice by two readings at once.
 */
export class MetricsScrape {
  private readonly health: SourceHealth;
  private readonly runs: RunRecordMetrics;
  private readonly budgets: BudgetGauges;
  private readonly approvals: PendingApprovalGauges;
  private inFlight: Promise<void> | undefined;
  private temporalReadAt = -Infinity;

  constructor(
    registry: Registry,
    private readonly deps: ApiDeps,
    private readonly pending: PendingCalls,
    log: FastifyBaseLogger,
  ) {
    this.health = new SourceHealth(registry, log);
    this.runs = new RunRecordMetrics(deps.pool, registry);
    this.budgets = new BudgetGauges(deps.client, registry);
    this.approvals = new PendingApprovalGauges(deps.client, registry);
  }

  collect(): Promise<void> {
    this.inFlight ??= this.readSources().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async readSources(): Promise<void> {
    const reads = [this.health.read('runbook_runs', () => this.runs.read())];
    if (performance.now() - this.temporalReadAt >= TEMPORAL_REFRESH_MS) {
      this.temporalReadAt = performance.now();
      const budget = () => new TemporalBudget(this.deps.client, TEMPORAL_READ_MS, this.pending);
      reads.push(this.health.read('disruption_ledgers', () => this.budgets.read(budget())));
      reads.push(this.health.read('pending_approvals', () => this.approvals.read(budget())));
    }
    await Promise.all(reads);
  }
}
