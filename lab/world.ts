/** Everything the lab simulates, in one place: hosts, platform, records. */
import type { SimHostState } from './gpu-host-state';
import type { HostRuntime } from './host-runtime';
import { IdempotencyStore } from './idempotency';
import type { LabHostSpec } from './inventory';
import { PlatformState } from './platform-state';
import { Records } from './records';
import type { SshHost } from './ssh-hosts';

export interface LabHost {
  spec: LabHostSpec;
  state: SimHostState;
  runtime?: HostRuntime;
  ssh?: SshHost;
}

/** A part of the simulation with its own state and timers (the platform-app runtime). */
export interface LabPart {
  /** Back to its initial state; runs after the hosts' own reset. A part with real backends (SQL, Redis) resets asynchronously. */
  reset(now: Date): void | Promise<void>;
  stop(): void | Promise<void>;
}

export class LabWorld {
  readonly hosts = new Map<string, LabHost>();
  readonly parts: LabPart[] = [];
  readonly platform: PlatformState;
  readonly records = new Records();
  readonly idempotency = new IdempotencyStore();

  constructor(hosts: readonly LabHost[], drainDelayMs: number) {
    for (const h of hosts) this.hosts.set(h.spec.node_id, h);
    // Only compute nodes are known to the scheduler.
    this.platform = new PlatformState(
      hosts.filter((h) => h.spec.role === 'worker_compute').map((h) => ({ node_id: h.spec.node_id, hostname: h.spec.hostname })),
      drainDelayMs,
    );
  }

  /** What the platform tells a host about its workloads when a command starts. */
  allocationFacts(nodeId: string): { allocatedGpus: number[]; allocationsRunning: boolean } {
    const allocations = this.platform.has(nodeId) ? this.platform.allocations(nodeId) : [];
    return {
      allocatedGpus: [...new Set(allocations.flatMap((a) => a.gpu_indexes))],
      allocationsRunning: allocations.length > 0,
    };
  }

  /** Every host healthy and up, processes killed, records/tickets/keys-in-use cleared; ports and host keys unchanged. */
  async reset(now = new Date()): Promise<void> {
    for (const h of this.hosts.values()) {
      h.runtime?.reset();
      h.ssh?.resetConnections();
      h.state.resetToHealthy(now);
    }
    this.records.clear();
    this.idempotency.clear();
    this.platform.reset(now);
    // In order: a later part may build on an earlier one's state (the orchestrator on the app runtime's hosts).
    for (const p of this.parts) await p.reset(now);
  }

  async stop(): Promise<void> {
    for (const h of this.hosts.values()) h.runtime?.stop();
    this.platform.stop();
    for (const p of this.parts) await p.stop();
  }
}
