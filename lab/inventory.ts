/** The lab's host list and the inventory.json the engine reads to reach it. */
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { HostRole } from '../domain/host-roles';
import { InventorySchema, type Inventory } from '../domain/inventory';
import { GPUS_PER_NODE } from './gpus';

export interface LabHostSpec {
  node_id: string;
  hostname: string;
  role: HostRole;
  gpu_count: number;
  labels: Record<string, string>;
  drillable: boolean;
}

/** GPU nodes per lab rack, unless the lab is told otherwise. */
export const DEFAULT_RACK_SIZE = 10;

/**
 * dev-control-1, dev-lab-1, dev-gpu-1 and `extraGpuNodes` more GPU nodes.
 * node_id == hostname. GPU nodes fill racks of `rackSize` in order (rack-1,
 * rack-2, ...), all in pool `lab`; every lab host is drillable.
 */
export function labHostSpecs(extraGpuNodes: number, rackSize = DEFAULT_RACK_SIZE): LabHostSpec[] {
  const hosts: LabHostSpec[] = [
    { node_id: 'dev-control-1', hostname: 'dev-control-1', role: 'platform_control', gpu_count: 0, labels: {}, drillable: true },
    { node_id: 'dev-lab-1', hostname: 'dev-lab-1', role: 'app_control', gpu_count: 0, labels: {}, drillable: true },
  ];
  for (let i = 1; i <= 1 + extraGpuNodes; i++) {
    const labels = { rack: `rack-${Math.ceil(i / rackSize)}`, pool: 'lab' };
    hosts.push({ node_id: `dev-gpu-${i}`, hostname: `dev-gpu-${i}`, role: 'worker_compute', gpu_count: GPUS_PER_NODE, labels, drillable: true });
  }
  return hosts;
}

export function buildInventory(specs: readonly LabHostSpec[], endpoints: ReadonlyMap<string, { host: string; port: number; hostKey: string }>): Inventory {
  return InventorySchema.parse({
    hosts: specs.map((s) => {
      const ep = endpoints.get(s.node_id);
      if (!ep) throw new Error(`no SSH endpoint for ${s.node_id}`);
      return { ...s, host: ep.host, port: ep.port, user: 'root', host_key: ep.hostKey };
    }),
  });
}

export function writeInventory(path: string, inventory: Inventory): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(inventory, null, 2)}\n`);
  renameSync(tmp, path);
}

/** Ports used by the previous run, so a restarted lab keeps its inventory when it can. */
export function previousPorts(path: string): Map<string, number> {
  if (!existsSync(path)) return new Map();
  try {
    const inv = InventorySchema.parse(JSON.parse(readFileSync(path, 'utf8')));
    return new Map(inv.hosts.map((h) => [h.node_id, h.port]));
  } catch {
    return new Map();
  }
}
