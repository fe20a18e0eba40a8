/**
 * The scheduler side of the simulated cloud: per-node cordon state, running
 * allocations that drain a fixed delay after a cordon, and RMA tickets.
 */
import { GPUS_PER_NODE } from './gpus';

export interface Allocation {
  id: string;
  tenant: string;
  gpu_indexes: number[];
  started_at: string;
}

export interface PlatformNode {
  node_id: string;
  hostname: string;
  schedulable: boolean;
  cordon_reason: string | null;
  updated_at: string;
}

export interface RmaTicket {
  ticket_id: string;
  node_id: string;
  gpu_uuid?: string;
  summary: string;
  evidence: Record<string, unknown>;
  status: 'open';
  created_at: string;
}

interface NodeRuntime {
  node: PlatformNode;
  allocations: Allocation[];
  stuckDrain: boolean;
  drainTimer?: NodeJS.Timeout;
}

export class NodeCordonedError extends Error {
  constructor(nodeId: string) {
    super(`node ${nodeId} is cordoned; new allocations cannot land on it`);
  }
}

const TENANTS = ['tenant-acme', 'tenant-globex', 'tenant-initech', 'tenant-umbrella'];

export class PlatformState {
  private nodes = new Map<string, NodeRuntime>();
  private tickets: RmaTicket[] = [];
  private allocationSeq = 0;

  constructor(
    private readonly hosts: readonly { node_id: string; hostname: string }[],
    private readonly drainDelayMs: number,
  ) {
    this.reset();
  }

  /** Every node schedulable with two running allocations; tickets and faults cleared. */
  reset(now = new Date()): void {
    for (const rt of this.nodes.values()) clearTimeout(rt.drainTimer);
    this.nodes.clear();
    this.tickets = [];
    this.allocationSeq = 0;
    for (const h of this.hosts) {
      const half = GPUS_PER_NODE / 2;
      const rt: NodeRuntime = {
        node: { node_id: h.node_id, hostname: h.hostname, schedulable: true, cordon_reason: null, updated_at: now.toISOString() },
        allocations: [],
        stuckDrain: false,
      };
      this.nodes.set(h.node_id, rt);
      rt.allocations.push(
        this.newAllocation([...Array(half).keys()], now),
        this.newAllocation(
          [...Array(half).keys()].map((i) => i + half),
          now,
        ),
      );
    }
  }

  stop(): void {
    for (const rt of this.nodes.values()) clearTimeout(rt.drainTimer);
  }

  has(nodeId: string): boolean {
    return this.nodes.has(nodeId);
  }

  node(nodeId: string): PlatformNode | undefined {
    const rt = this.nodes.get(nodeId);
    return rt ? { ...rt.node } : undefined;
  }

  listNodes(): PlatformNode[] {
    return [...this.nodes.values()].map((rt) => ({ ...rt.node }));
  }

  allocations(nodeId: string): Allocation[] {
    return (this.nodes.get(nodeId)?.allocations ?? []).map((a) => ({ ...a, gpu_indexes: [...a.gpu_indexes] }));
  }

  stuckDrain(nodeId: string): boolean {
    return this.nodes.get(nodeId)?.stuckDrain ?? false;
  }

  cordon(nodeId: string, reason: string, now = new Date()): PlatformNode {
    const rt = this.runtime(nodeId);
    const wasSchedulable = rt.node.schedulable;
    rt.node = { ...rt.node, schedulable: false, cordon_reason: reason, updated_at: now.toISOString() };
    if (wasSchedulable) {
      clearTimeout(rt.drainTimer);
      rt.drainTimer = setTimeout(() => {
        rt.drainTimer = undefined;
        if (!rt.stuckDrain) rt.allocations = [];
      }, this.drainDelayMs);
      rt.drainTimer.unref();
    }
    return { ...rt.node };
  }

  uncordon(nodeId: string, now = new Date()): PlatformNode {
    const rt = this.runtime(nodeId);
    clearTimeout(rt.drainTimer);
    rt.drainTimer = undefined;
    rt.node = { ...rt.node, schedulable: true, cordon_reason: null, updated_at: now.toISOString() };
    return { ...rt.node };
  }

  /** Force-evicts everything running on the node; returns what was evicted. */
  evict(nodeId: string): Allocation[] {
    const rt = this.runtime(nodeId);
    const evicted = rt.allocations;
    rt.allocations = [];
    return evicted;
  }

  setStuckDrain(nodeId: string): void {
    this.runtime(nodeId).stuckDrain = true;
  }

  /** Lab admin: start `count` allocations (two GPUs each) on a schedulable node. */
  seedAllocations(nodeId: string, count: number, now = new Date()): Allocation[] {
    const rt = this.runtime(nodeId);
    if (!rt.node.schedulable) throw new NodeCordonedError(nodeId);
    const added: Allocation[] = [];
    for (let i = 0; i < count; i++) {
      const first = (2 * (rt.allocations.length + i)) % GPUS_PER_NODE;
      added.push(this.newAllocation([first, first + 1], now));
    }
    rt.allocations.push(...added);
    return added;
  }

  createTicket(t: Omit<RmaTicket, 'ticket_id' | 'status' | 'created_at'>, now = new Date()): RmaTicket {
    const ticket: RmaTicket = {
      ticket_id: `RMA-${String(this.tickets.length + 1).padStart(6, '0')}`,
      ...t,
      status: 'open',
      created_at: now.toISOString(),
    };
    if (ticket.gpu_uuid === undefined) delete ticket.gpu_uuid;
    this.tickets.push(ticket);
    return ticket;
  }

  ticket(id: string): RmaTicket | undefined {
    return this.tickets.find((t) => t.ticket_id === id);
  }

  /** Tickets in the order they were opened, optionally only one node's or one status's. */
  listTickets(filter: { node_id?: string; status?: string } = {}): RmaTicket[] {
    return this.tickets.filter(
      (t) => (filter.node_id === undefined || t.node_id === filter.node_id) && (filter.status === undefined || t.status === filter.status),
    );
  }

  private newAllocation(gpuIndexes: number[], now: Date): Allocation {
    const n = ++this.allocationSeq;
    return {
      id: `alloc-${String(n).padStart(6, '0')}`,
      tenant: TENANTS[(n - 1) % TENANTS.length] ?? 'tenant',
      gpu_indexes: gpuIndexes,
      started_at: now.toISOString(),
    };
  }

  private runtime(nodeId: string): NodeRuntime {
    const rt = this.nodes.get(nodeId);
    if (!rt) throw new RangeError(`unknown node ${nodeId}`);
    return rt;
  }
}
