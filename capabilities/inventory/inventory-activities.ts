import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { HostRole } from '../../domain/host-roles';
import { findHost, type Inventory, type InventoryHost } from '../../domain/inventory';

export interface HostDescription {
  node_id: string;
  hostname: string;
  role: HostRole;
  gpu_count: number;
  /** Whether drills may act on it (absent in results recorded before it was reported). */
  drillable?: boolean;
}

function describe(h: InventoryHost): HostDescription {
  return { node_id: h.node_id, hostname: h.hostname, role: h.role, gpu_count: h.gpu_count, drillable: h.drillable };
}

export function createInventoryActivities(deps: { inventory: Inventory }) {
  return {
    /** Identity and role of a run's target, from the inventory, without touching the host. */
    async describeHost(nodeId: string): Promise<HostDescription> {
      const host = findHost(deps.inventory, nodeId);
      if (!host) {
        throw ApplicationFailure.create({ type: ErrorType.HostNotInInventory, message: `node ${nodeId} is not in the inventory`, nonRetryable: true });
      }
      return describe(host);
    },
    /** The inventoried hosts that evidence names, by node id or host name; names the inventory lacks are listed apart. */
    async findHostsByName(names: string[]): Promise<{ found: HostDescription[]; unknown: string[] }> {
      const found = new Map<string, HostDescription>();
      const unknown: string[] = [];
      for (const name of names) {
        const host = findHost(deps.inventory, name) ?? deps.inventory.hosts.find((h) => h.hostname === name);
        if (host) found.set(host.node_id, describe(host));
        else unknown.push(name);
      }
      return { found: [...found.values()], unknown };
    },
    /** Every inventoried host of a role (e.g. the app_control host that runs platform-app controllers). */
    async hostsWithRole(role: HostRole): Promise<HostDescription[]> {
      return deps.inventory.hosts.filter((h) => h.role === role).map(describe);
    },
  };
}

export type InventoryActivities = ReturnType<typeof createInventoryActivities>;
