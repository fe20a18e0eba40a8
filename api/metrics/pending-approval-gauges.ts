import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { statusQuery } from '../../domain/messages';
import { SA } from '../../domain/search-attributes';
import type { TemporalBudget } from '../temporal-call';
import { mapConcurrently } from '../map-concurrently';

/** The runs that wait on a person now (the runner sets AwaitingApproval while a request is open). */
const WAITING_QUERY = `ExecutionStatus = 'Running' AND ${SA.AwaitingApproval.name} = true`;
/** Waiting runs read per scrape at most. */
export const MAX_WAITING_RUNS = 500;
const QUERY_CONCURRENCY = 16;
/** The label values of a run whose status could not be read (its worker is down, or it just moved on). */
const UNKNOWN = 'unknown';

/** The part of a run's status these gauges read; `kind` is absent on runs started before approvals had kinds. */
interface PendingApproval {
  step: string;
  kind?: string;
  requested_at: string;
}

type ApprovalLabel = 'runbook' | 'step' | 'kind';

/**
 * Approvals waiting for a decision now, and how long the oldest of each has waited: the
 * decided ones are in gpuaas_approval_wait_seconds once their run closes, these are the
 * ones someone should be looking at.
 */
export class PendingApprovalGauges {
  private readonly pending: Gauge<ApprovalLabel>;
  private readonly oldest: Gauge<ApprovalLabel>;

  constructor(
    private readonly client: Client,
    registry: Registry,
  ) {
    const labelNames = ['runbook', 'step', 'kind'] as const;
    this.pending = new Gauge({ name: 'gpuaas_approvals_pending', help: 'Approval requests waiting for a decision', labelNames, registers: [registry] });
    this.oldest = new Gauge({
      name: 'gpuaas_approval_pending_oldest_seconds',
      help: 'How long the oldest approval request still waiting has waited',
      labelNames,
      registers: [registry],
    });
  }

  async read(budget: TemporalBudget): Promise<void> {
    const waiting = await budget.call(
      'pending approvals',
      async () => {
        const runs: { workflowId: string; runId: string; runbook: string }[] = [];
        for await (const wf of this.client.workflow.list({ query: WAITING_QUERY })) {
          runs.push({ workflowId: wf.workflowId, runId: wf.runId, runbook: wf.typedSearchAttributes.get(SA.Runbook) ?? UNKNOWN });
          if (runs.length >= MAX_WAITING_RUNS) break;
        }
        const statuses = await mapConcurrently(runs, QUERY_CONCURRENCY, (r) => this.client.workflow.getHandle(r.workflowId, r.runId).query(statusQuery));
        // undefined: the status could not be read; null: decided between the listing and the query.
        return runs.map((r, i) => {
          const status = statuses[i];
          return status
            ? { runbook: status.runbook, approval: status.pending_approval as PendingApproval | null }
            : { runbook: r.runbook, approval: undefined };
        });
      },
      'worker_unavailable',
    );
    const now = Date.now();
    const groups = new Map<string, { labels: Record<ApprovalLabel, string>; count: number; oldestMs: number | null }>();
    for (const { runbook, approval } of waiting) {
      if (approval === null) continue;
      const labels = { runbook, step: approval?.step ?? UNKNOWN, kind: approval?.kind ?? (approval ? 'unspecified' : UNKNOWN) };
      const key = JSON.stringify(labels);
      const group = groups.get(key) ?? { labels, count: 0, oldestMs: null };
      group.count += 1;
      const requested = approval ? Date.parse(approval.requested_at) : NaN;
      if (Number.isFinite(requested)) group.oldestMs = Math.min(group.oldestMs ?? requested, requested);
      groups.set(key, group);
    }
    this.pending.reset();
    this.oldest.reset();
    for (const g of groups.values()) {
      this.pending.set(g.labels, g.count);
      if (g.oldestMs !== null) this.oldest.set(g.labels, Math.max(0, (now - g.oldestMs) / 1000));
    }
  }
}
