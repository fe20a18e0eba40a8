import type { Client } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { ledgerWorkflowId, scopesOf, type BudgetConfig, type Lease, type LedgerState, type ScopeSpec, type SlotRequest } from '../../domain/disruption';
import { ledgerStateQuery, slotRequestSignal } from '../../domain/disruption-messages';
import { ErrorType } from '../../domain/errors';
import { findHost, type Inventory } from '../../domain/inventory';
import type { StepContext } from '../../domain/step-context';
import type { PlatformClient } from '../platform/platform-client';
import { readNodeLeaseHolders } from './node-lease-holders';

export interface DisruptionScopes {
  /** Every scope the run's node belongs to, in the order every run leases them. */
  scopes: ScopeSpec[];
  /** Nodes of those scopes out of service now, as the platform says (cordoned by anyone). */
  unavailable: string[];
}

/** Leasing disruption slots from the ledgers (engine/disruption-ledger.ts) on the run's behalf. */
export interface BudgetDeps {
  inventory: Inventory;
  budgets: BudgetConfig;
  platform: PlatformClient;
  temporal: Client;
  /** Where the ledgers run: a task queue that always has workers (they outlive any one run). */
  ledgerTaskQueue: string;
}

export function createBudgetActivities(deps: BudgetDeps) {
  return {
    /** The scopes of the run's node with their caps, and which of their nodes are out of service. */
    async describeDisruptionScopes(ctx: StepContext): Promise<DisruptionScopes> {
      const host = findHost(deps.inventory, ctx.node_id ?? '');
      if (!host) {
        throw ApplicationFailure.create({ type: ErrorType.HostNotInInventory, message: `node ${ctx.node_id} is not in the inventory`, nonRetryable: true });
      }
      const scopes = scopesOf(deps.inventory, host, deps.budgets);
      const members = new Set(scopes.flatMap((s) => s.nodes));
      const nodes = await deps.platform.listNodes();
      return { scopes, unavailable: nodes.filter((n) => members.has(n.node_id) && !n.schedulable).map((n) => n.node_id) };
    },

    /**
     * Asks the scope's ledger for a slot (starting the ledger when it is the
     * first request), and returns the ledger as it stands for the run's status.
     * Idempotent: a repeated request replaces the earlier one, and a holder that
     * asks again is told again.
     */
    async requestDisruptionSlot(ctx: StepContext, scope: ScopeSpec, unavailable: string[]): Promise<LedgerState> {
      const request: SlotRequest = {
        holder: ctx.workflow_id,
        node_id: ctx.node_id!,
        runbook: ctx.runbook,
        requested_at: new Date().toISOString(),
        cap: scope.cap,
        size: scope.size,
        unavailable_elsewhere: unavailable.filter((n) => scope.nodes.includes(n)),
      };
      const handle = await deps.temporal.workflow.signalWithStart('disruptionLedger', {
        workflowId: ledgerWorkflowId(scope.key),
        taskQueue: deps.ledgerTaskQueue,
        args: [{ scope: scope.key, size: scope.size, cap: scope.cap }],
        signal: slotRequestSignal,
        signalArgs: [request],
      });
      return handle.query(ledgerStateQuery);
    },

    /** Who holds the run's node out of service now (its own scope's ledger); none when it has no ledger. */
    async readNodeHolders(ctx: StepContext): Promise<Lease[]> {
      return readNodeLeaseHolders(deps.temporal, ctx.node_id ?? '');
    },
  };
}

export type BudgetActivities = ReturnType<typeof createBudgetActivities>;
