import { condition, getExternalWorkflowHandle, isCancellation, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { BudgetActivities } from '../capabilities/budget/budget-activities';
import { ledgerWorkflowId, type Lease, type ScopeSpec } from '../domain/disruption';
import { slotGrantedSignal, slotReleaseSignal } from '../domain/disruption-messages';
import { ActivityOptionSets } from './activity-options';
import { failureOf } from './failures';
import type { RunbookRun } from './runner';

const budget = proxyActivities<BudgetActivities>(ActivityOptionSets.platformCall);

/**
 * A run's share of the fleet-wide disruption budget for the node it takes out
 * of service: one slot from every scope the node belongs to (the node itself,
 * its rack, its pool, ...), leased in scope order before the first disruptive
 * step and given back when the node is back in service. A full scope makes the
 * run wait, with `BlockedOnBudget=true` and the scope and its holders in its
 * status; it never fails the run. A run that fails or is cancelled gives its
 * slots back (its node, if still cordoned, keeps counting: every request
 * counts the scope's cordoned nodes). A run that ends with its node held for a
 * person keeps them until a person releases them.
 */
export class DisruptionLease {
  private readonly granted = new Set<string>();
  private requested: ScopeSpec[] = [];

  constructor(
    private readonly run: RunbookRun,
    private readonly nodeId: string,
  ) {
    setHandler(slotGrantedSignal, (g) => {
      if (g.node_id === this.nodeId) this.granted.add(g.scope);
    });
    run.onAbort(() => this.giveBack());
  }

  /** For a plan: the scopes the node would be leased from, with their caps, read now. */
  static async plannedScopes(run: RunbookRun): Promise<string[]> {
    return run.step(
      'read_disruption_scopes',
      async (ctx) => (await budget.describeDisruptionScopes(ctx)).scopes.map((s) => `${s.key} (cap ${s.cap} of ${s.size})`),
      { describe: (scopes) => scopes.join(', ') },
    );
  }

  /**
   * For a pre-check: the other runs that hold the node out of service now (a node
   * held for an operator after an RMA, or another run's disruption). A run that
   * would only add load to the node refuses it rather than wait behind them.
   */
  static async otherHolders(run: RunbookRun): Promise<Lease[]> {
    const self = workflowInfo().workflowId;
    return run.step('check_node_lease', async (ctx) => (await budget.readNodeHolders(ctx)).filter((h) => h.holder !== self), {
      describe: (holders) => (holders.length ? `held by ${holders.map((h) => `${h.holder} since ${h.granted_at}`).join(', ')}` : 'free'),
    });
  }

  /** Leases the node from every scope it belongs to, waiting while a scope is full. */
  async acquire(): Promise<void> {
    await this.run.step(
      'lease_disruption_slots',
      async (ctx) => {
        const { scopes, unavailable } = await budget.describeDisruptionScopes(ctx);
        for (const scope of scopes) {
          this.requested.push(scope);
          const ledger = await budget.requestDisruptionSlot(ctx, scope, unavailable);
          if (this.granted.has(scope.key)) continue;
          this.run.blockedOn({
            scope: scope.key,
            cap: scope.cap,
            holders: ledger.holders.map((h) => h.holder),
            waiting: ledger.waiters.length,
            since: new Date().toISOString(),
          });
          await condition(() => this.granted.has(scope.key));
          this.run.blockedOn(null);
        }
      },
      { describe: () => `leased ${this.requested.map((s) => `${s.key} (cap ${s.cap})`).join(', ')}` },
    );
  }

  /** Gives the slots back: the node is back in service, or someone else holds it out. */
  async release(): Promise<void> {
    if (this.requested.length === 0) return;
    await this.run.step('release_disruption_slots', () => this.giveBack());
  }

  private async giveBack(): Promise<void> {
    if (this.run.status.blocked_on) this.run.blockedOn(null);
    const holder = workflowInfo().workflowId;
    for (const scope of this.requested.splice(0)) {
      try {
        await getExternalWorkflowHandle(ledgerWorkflowId(scope.key)).signal(slotReleaseSignal, { holder, node_id: this.nodeId });
      } catch (err) {
        if (isCancellation(err)) throw err;
        // No ledger for the scope any more (an operator ended it): nothing is held there.
        log.warn('disruption ledger gone; nothing to release', { scope: scope.key, error: failureOf(err).message });
      }
    }
  }
}
