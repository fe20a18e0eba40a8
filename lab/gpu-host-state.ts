/**
 * Pure state of one simulated host: boot identity, kernel log and, on
 * worker_compute hosts, eight GPUs with their faults. No I/O; time comes in as an
 * argument so tests can drive it.
 */
import { randomUUID } from 'node:crypto';
import type { HostRole } from '../domain/host-roles';
import { GPUS_PER_NODE, gpuIdentities, type GpuIdentity } from './gpus';
import { bootMessages, xidMessage, type KernelLine } from './kernel-log';

/** Xids that mean an uncorrectable memory error: volatile ECC + pending row remap. */
export const MEMORY_XIDS: ReadonlySet<number> = new Set([48, 63, 64, 94, 95, 171]);
/** GPU fell off the bus. */
export const LOST_XID = 79;

export interface GpuFault {
  xid: number;
  /** Survives GPU reset and reboot (hardware); transient faults are cleared by either. */
  persistent: boolean;
}

export interface SimGpu extends GpuIdentity {
  persistence_mode: boolean;
  faults: GpuFault[];
  /** Row remapping failed at some point in the GPU's life (sticky until lab reset). */
  remap_failure: boolean;
  /** Injected "fails DCGM diagnostics" hardware fault (sticky until lab reset). */
  diag_fail: boolean;
}

export function isLost(gpu: SimGpu): boolean {
  return gpu.faults.some((f) => f.xid === LOST_XID);
}

export function hasMemoryFault(gpu: SimGpu): boolean {
  return gpu.faults.some((f) => MEMORY_XIDS.has(f.xid));
}

export function eccVolatile(gpu: SimGpu): number {
  return hasMemoryFault(gpu) ? 1 : 0;
}

export function remapPending(gpu: SimGpu): boolean {
  return hasMemoryFault(gpu);
}

export class SimHostState {
  bootId = '';
  bootedAt = new Date(0);
  kernelLog: KernelLine[] = [];
  previousKernelLog: KernelLine[] | null = null;
  gpus: SimGpu[] = [];

  constructor(
    readonly nodeId: string,
    readonly hostname: string,
    readonly role: HostRole,
    now: Date = new Date(),
  ) {
    this.resetToHealthy(now);
  }

  get isWorker(): boolean {
    return this.role === 'worker_compute';
  }

  /** Back to the initial state: healthy GPUs, persistence mode on, a fresh boot. */
  resetToHealthy(now: Date): void {
    const count = this.isWorker ? GPUS_PER_NODE : 0;
    this.gpus = gpuIdentities(this.nodeId, count).map((id) => ({
      ...id,
      persistence_mode: true,
      faults: [],
      remap_failure: false,
      diag_fail: false,
    }));
    this.previousKernelLog = null;
    this.boot(now, false);
  }

  /**
   * A (re)boot: new boot_id, fresh kernel log, transient faults gone, persistence
   * mode back on (nvidia-persistenced starts at boot), persistent faults re-logged.
   */
  boot(now: Date, keepPrevious = true): void {
    this.previousKernelLog = keepPrevious ? this.kernelLog : null;
    this.bootId = randomUUID();
    this.bootedAt = now;
    this.kernelLog = bootMessages(this.hostname).map((message) => ({ at: now, message }));
    for (const gpu of this.gpus) {
      gpu.persistence_mode = true;
      gpu.faults = gpu.faults.filter((f) => f.persistent);
      for (const f of gpu.faults) this.kernelLog.push({ at: now, message: xidMessage(gpu.kernel_pci, f.xid) });
    }
  }

  gpu(index: number): SimGpu | undefined {
    return this.gpus[index];
  }

  /** Logs the Xid for the GPU's PCI address now and applies its effect. */
  injectXid(gpuIndex: number, xid: number, persistent: boolean, now: Date): SimGpu {
    const gpu = this.requireGpu(gpuIndex);
    this.kernelLog.push({ at: now, message: xidMessage(gpu.kernel_pci, xid) });
    const existing = gpu.faults.find((f) => f.xid === xid);
    if (existing) existing.persistent = existing.persistent || persistent;
    else gpu.faults.push({ xid, persistent });
    return gpu;
  }

  injectDiagFail(gpuIndex: number): SimGpu {
    const gpu = this.requireGpu(gpuIndex);
    gpu.diag_fail = true;
    return gpu;
  }

  /**
   * Effect of a successful `nvidia-smi -r` on one GPU: transient faults are
   * cleared; a persistent memory fault stays and the remap is now known to fail.
   */
  applyGpuReset(gpu: SimGpu): void {
    if (gpu.faults.some((f) => f.persistent && MEMORY_XIDS.has(f.xid))) gpu.remap_failure = true;
    gpu.faults = gpu.faults.filter((f) => f.persistent);
  }

  private requireGpu(index: number): SimGpu {
    const gpu = this.gpus[index];
    if (!gpu) throw new RangeError(`${this.nodeId} has no GPU ${index}`);
    return gpu;
  }

  /** Debug view for GET /lab/v1/hosts/:node_id/state. */
  snapshot(): object {
    return {
      node_id: this.nodeId,
      hostname: this.hostname,
      role: this.role,
      boot_id: this.bootId,
      booted_at: this.bootedAt.toISOString(),
      gpus: this.gpus.map((g) => ({
        index: g.index,
        uuid: g.uuid,
        pci_bus_id: g.pci_bus_id,
        persistence_mode: g.persistence_mode,
        lost: isLost(g),
        ecc_uncorrected_volatile: eccVolatile(g),
        remapped_rows_pending: remapPending(g),
        remapped_rows_failure: g.remap_failure,
        diag_fail: g.diag_fail,
        faults: g.faults,
      })),
      kernel_log_lines: this.kernelLog.length,
    };
  }
}
