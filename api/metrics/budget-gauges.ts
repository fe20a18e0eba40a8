import type { Client } from '@temporalio/client';
import { Gauge, type Registry } from 'prom-client';
import { unavailableNodes, type LedgerState } from '../../domain/disruption';
import { ledgerStateQuery } from '../../domain/disruption-messages';
import type { TemporalBudget } from '../temporal-call';
import { mapConcurrently } from '../map-concurrently';

/** The same ledgers GET /api/v1/budgets lists. */
const LEDGERS_QUERY = `WorkflowType = 'disruptionLedger' AND ExecutionStatus = 'Running'`;
/** Scopes read per scrape at most (every node that ever had a run has its own `node/<id>` scope). */
export const MAX_LEDGERS = 1_000;
const QUERY_CONCURRENCY = 16;

type ScopeLabel = 'scope' | 'kind';

/**
 * The disruption budget of every scope as gauges, read from the ledger workflows (the source
 * of GET /api/v1/budgets). A scope whose ledger is gone drops out at the next good read.
 */
export class BudgetGauges {
  private readonly cap: Gauge<ScopeLabel>;
  private readonly held: Gauge<ScopeLabel>;
  private readonly unavailable: Gauge<ScopeLabel>;
  private readonly waiting: Gauge<ScopeLabel>;

  constructor(
    private readonly client: Client,
    registry: Registry,
  ) {
    const gauge = (name: string, help: string) => new Gauge({ name, help, labelNames: ['scope', 'kind'] as const, registers: [registry] });
    this.cap = gauge('gpuaas_budget_cap', 'Nodes of the scope that may be out of service at once');
    this.held = gauge('gpuaas_budget_slots_held', 'Slots of the scope held by runs (or kept for an operator after a run)');
    this.unavailable = gauge(
      'gpuaas_budget_unavailable_nodes',
      "Nodes counted against the scope's cap: those held by runs and those out of service for other reasons",
    );
    this.waiting = gauge('gpuaas_budget_waiting_runs', 'Runs waiting for a slot of the scope');
  }

  async read(budget: TemporalBudget): Promise<void> {
    const states = await budget.call(
      'disruption ledgers',
      async () => {
        const ids: string[] = [];
        for await (const wf of this.client.workflow.list({ query: LEDGERS_QUERY })) {
          ids.push(wf.workflowId);
          if (ids.length >= MAX_LEDGERS) break;
        }
        return mapConcurrently(ids, QUERY_CONCURRENCY, (id) => this.client.workflow.getHandle(id).query(ledgerStateQuery));
      },
      'worker_unavailable',
    );
    for (const g of [this.cap, this.held, this.unavailable, this.waiting]) g.reset();
    for (const s of states.filter((s): s is LedgerState => s !== undefined)) {
      const labels = { scope: s.scope, kind: s.scope.split('/')[0]! };
      this.cap.set(labels, s.cap);
      this.held.set(labels, s.holders.length);
      this.unavailable.set(labels, unavailableNodes(s).size);
      this.waiting.set(labels, s.waiters.length);
    }
  }
}
