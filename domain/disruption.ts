/**
 * The fleet-wide disruption budget, as pure data and decisions (no I/O): safe
 * in the ledger workflow and unit-testable.
 *
 * A scope is a set of nodes that share one budget: a rack, a pool, a partition,
 * as the inventory labels them (`labels: {rack: r12}` → scope `rack/r12`), and
 * every node is also its own scope `node/<id>` with a cap of one: the node
 * lease. A run that takes a node out of service first leases it from every
 * scope the node belongs to.
 */
import { z } from 'zod';
import type { Inventory, InventoryHost } from './inventory';

/** Caps of one kind of scope: absolute and percentage of the scope's nodes, both applied. */
export const ScopeCapsSchema = z
  .object({
    max: z.number().int().min(1).optional(),
    max_percent: z.number().min(0).max(100).optional(),
  })
  .strict()
  .refine((c) => c.max !== undefined || c.max_percent !== undefined, 'give max, max_percent or both');
export type ScopeCaps = z.infer<typeof ScopeCapsSchema>;

/** Caps by label name: {"rack": {"max": 1}, "pool": {"max_percent": 10}}. */
export const BudgetConfigSchema = z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), ScopeCapsSchema);
export type BudgetConfig = z.infer<typeof BudgetConfigSchema>;

export const NODE_SCOPE_KIND = 'node';

export interface ScopeSpec {
  /** `rack/r12`, `node/dev-gpu-3`: also the ledger's workflow id suffix. */
  key: string;
  /** Nodes the scope has in the inventory. */
  size: number;
  /** How many of them may be unavailable at once. */
  cap: number;
  /** What the cap was made of, for operators. */
  caps: ScopeCaps;
  /** Every node of the scope (to count those unavailable for other reasons). */
  nodes: string[];
}

export function scopeKey(kind: string, value: string): string {
  return `${kind}/${value}`;
}

/**
 * The cap of a scope of `size` nodes: the smaller of the absolute and the
 * percentage cap. A percentage never rounds below one node: a budget that
 * lets nothing through would hold every fault forever.
 */
export function capOf(caps: ScopeCaps, size: number): number {
  const limits = [caps.max ?? Infinity, caps.max_percent === undefined ? Infinity : Math.max(1, Math.floor((size * caps.max_percent) / 100))];
  return Math.min(...limits);
}

/** The scopes a node belongs to, ordered by key: every run leases in this order, so two runs never wait on each other in a cycle. */
export function scopesOf(inventory: Inventory, host: InventoryHost, budgets: BudgetConfig): ScopeSpec[] {
  const scopes: ScopeSpec[] = [{ key: scopeKey(NODE_SCOPE_KIND, host.node_id), size: 1, cap: 1, caps: { max: 1 }, nodes: [host.node_id] }];
  for (const [kind, value] of Object.entries(host.labels)) {
    const caps = budgets[kind];
    if (!caps) continue;
    const nodes = inventory.hosts.filter((h) => h.labels[kind] === value).map((h) => h.node_id);
    scopes.push({ key: scopeKey(kind, value), size: nodes.length, cap: capOf(caps, nodes.length), caps, nodes });
  }
  return scopes.sort((a, b) => a.key.localeCompare(b.key));
}

/** The ledger workflow that keeps one scope's budget. */
export function ledgerWorkflowId(scope: string): string {
  return `disruption-ledger/${scope}`;
}

/** The scope a ledger's workflow id stands for. */
export function ledgerScope(workflowId: string): string {
  return workflowId.replace(/^disruption-ledger\//, '');
}

/** One run's request for a slot of one scope. */
export interface SlotRequest {
  /** The scope's cap and size as the requester's configuration and inventory say (the latest wins). */
  cap: number;
  size: number;
  /** The workflow id of the run; one slot per run and node. */
  holder: string;
  node_id: string;
  runbook: string;
  requested_at: string;
  /** Nodes of the scope the requester saw out of service for other reasons (cordoned by someone else). */
  unavailable_elsewhere: string[];
}

export interface Lease {
  holder: string;
  node_id: string;
  runbook: string;
  requested_at: string;
  granted_at: string;
}

export interface LedgerState {
  scope: string;
  size: number;
  cap: number;
  holders: Lease[];
  waiters: SlotRequest[];
  /** The latest view of nodes unavailable for other reasons; they count against the cap. */
  unavailable_elsewhere: string[];
}

/** What counts against the cap: every held node, and every node out of service for another reason. */
export function unavailableNodes(state: LedgerState): Set<string> {
  return new Set([...state.holders.map((h) => h.node_id), ...state.unavailable_elsewhere]);
}

/**
 * Grants waiting requests first come, first served while the scope stays within
 * its cap. A request for a node another run holds waits for that run; a request
 * by a holder that already holds its node is granted again (a retried request).
 * Returns the new leases; `state` is updated in place.
 */
export function grantWaiting(state: LedgerState, now: string): Lease[] {
  const granted: Lease[] = [];
  for (let i = 0; i < state.waiters.length;) {
    const w = state.waiters[i]!;
    const mine = state.holders.find((h) => h.holder === w.holder && h.node_id === w.node_id);
    const nodeHeldByOther = state.holders.some((h) => h.node_id === w.node_id && h.holder !== w.holder);
    const busy = unavailableNodes(state);
    // The requester's own node does not count twice: it is the one about to go out.
    const inUse = busy.size - (busy.has(w.node_id) && !nodeHeldByOther ? 1 : 0);
    if (mine || (!nodeHeldByOther && inUse < state.cap)) {
      state.waiters.splice(i, 1);
      const lease = mine ?? { holder: w.holder, node_id: w.node_id, runbook: w.runbook, requested_at: w.requested_at, granted_at: now };
      if (!mine) state.holders.push(lease);
      granted.push(lease);
      continue;
    }
    // FIFO: a request that cannot be granted keeps the ones behind it waiting, unless it
    // waits only for its own node (another request may then fit without jumping the queue).
    if (!nodeHeldByOther) break;
    i++;
  }
  return granted;
}

/** Adds a request (a repeat of the same holder and node replaces the earlier one) and records its view of the scope. */
export function enqueue(state: LedgerState, req: SlotRequest): void {
  state.waiters = state.waiters.filter((w) => !(w.holder === req.holder && w.node_id === req.node_id));
  state.waiters.push(req);
  state.cap = req.cap;
  state.size = req.size;
  const held = new Set(state.holders.map((h) => h.node_id));
  state.unavailable_elsewhere = req.unavailable_elsewhere.filter((n) => !held.has(n) && n !== req.node_id).sort();
}

/** Ends a holder's lease (or its wait) for a node; true when anything changed. */
export function release(state: LedgerState, holder: string, nodeId: string): boolean {
  const before = state.holders.length + state.waiters.length;
  state.holders = state.holders.filter((h) => !(h.holder === holder && h.node_id === nodeId));
  state.waiters = state.waiters.filter((w) => !(w.holder === holder && w.node_id === nodeId));
  return state.holders.length + state.waiters.length !== before;
}
