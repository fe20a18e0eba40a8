import type { FastifyBaseLogger } from 'fastify';
import { Counter, Gauge, type Registry } from 'prom-client';

/** What /metrics reads besides the API's own process: the engine's tables, the ledgers, the waiting runs. */
export const METRICS_SOURCES = ['runbook_runs', 'disruption_ledgers', 'pending_approvals'] as const;
export type MetricsSource = (typeof METRICS_SOURCES)[number];

/**
 * Whether each source answered at the last scrape. A scrape whose source fails still
 * answers with everything else (process metrics, request latency, the other sources),
 * so an unreachable database shows as `gpuaas_metrics_source_up 0`, not as a dead target.
 */
export class SourceHealth {
  private readonly up: Gauge<'source'>;
  private readonly errors: Counter<'source'>;

  constructor(
    registry: Registry,
    private readonly log: FastifyBaseLogger,
  ) {
    this.up = new Gauge({
      name: 'gpuaas_metrics_source_up',
      help: '1 when the source answered at the last scrape that read it, 0 when it failed (its metrics keep their last values)',
      labelNames: ['source'] as const,
      registers: [registry],
    });
    this.errors = new Counter({
      name: 'gpuaas_metrics_source_errors_total',
      help: 'Scrapes that could not read the source',
      labelNames: ['source'] as const,
      registers: [registry],
    });
    for (const source of METRICS_SOURCES) this.errors.inc({ source }, 0);
  }

  /** Runs one read of `source`; a failure is counted and logged, never thrown. */
  async read(source: MetricsSource, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
      this.up.set({ source }, 1);
    } catch (err) {
      this.up.set({ source }, 0);
      this.errors.inc({ source });
      this.log.warn({ err, source }, 'metrics source unreadable');
    }
  }
}
