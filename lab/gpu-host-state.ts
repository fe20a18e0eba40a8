/**
 * Pure state of one simulated host: boot identity, kernel log, the files under
 * /var/tmp and, on worker_compute hosts, eight GPUs with their faults. No I/O and
 * no timers; time comes in as an argument so tests can drive it. What runs on the
 * host (processes, systemd units) lives in host-runtime.ts.
 */
import { randomUUID } from 'node:crypto';
import type { HostRole } from '../domain/host-roles';
import { DRIVER_VERSION, GPUS_PER_NODE, gpuIdentities, type GpuIdentity } from './gpus';
import { bootMessages, KernelJournal, recoveryActionMessage, xidMessage, type KernelLine, type RecoveryAction } from './kernel-log';

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
  /** What the driver last asked for in an Xid 154 (cleared by a reset or a boot). */
  recovery_action: RecoveryAction;
}

/** A process outside the engine's control that keeps a GPU open (a leftover training job). */
export interface StrayGpuProcess {
  gpu_index: number;
  pid: number;
  name: string;
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
  kernelLog: KernelJournal;
  previousKernelLog: KernelJournal | null = null;
  gpus: SimGpu[] = [];
  /** Processes holding GPUs open; a reboot ends them. */
  strayProcesses: StrayGpuProcess[] = [];
  /** GPUs DCGM cannot see: diag leaves them out of its report (sticky until lab reset). */
  diagOmitted = new Set<number>();
  /** nv-hostengine is not running (crashed, or a broken DCGM install): dcgmi cannot connect. Sticky until lab reset. */
  hostEngineDown = false;
  /** The driver the kernel runs (loaded at boot) and the one the packages hold; they differ between an install and the reboot. */
  driverLoaded: string = DRIVER_VERSION;
  driverInstalled: string = DRIVER_VERSION;
  /** The next driver install fails in dkms's module build (once). */
  driverInstallFails = false;
  /** Running this driver, GPU 0 fails dcgmi diag's memory test (a driver regression on this host). */
  driverFailsDiag: string | null = null;
  /** Regular files by absolute path (/var/tmp is on disk: it survives a reboot). */
  files = new Map<string, string>();
  private lastPid = 0;

  constructor(
    readonly nodeId: string,
    readonly hostname: string,
    readonly role: HostRole,
    now: Date = new Date(),
  ) {
    this.kernelLog = new KernelJournal(hostname);
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
      recovery_action: 'none' as RecoveryAction,
    }));
    this.diagOmitted.clear();
    this.hostEngineDown = false;
    this.driverInstalled = DRIVER_VERSION;
    this.driverInstallFails = false;
    this.driverFailsDiag = null;
    this.files.clear();
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
    this.driverLoaded = this.driverInstalled;
    // PIDs start over after a boot; services and logins take the first few hundred.
    this.lastPid = 1200 + Math.floor(Math.random() * 400);
    this.strayProcesses = [];
    this.kernelLog = new KernelJournal(this.hostname);
    for (const message of bootMessages(this.hostname)) this.kernelLog.append(now, message);
    for (const gpu of this.gpus) {
      gpu.persistence_mode = true;
      gpu.recovery_action = 'none';
      gpu.faults = gpu.faults.filter((f) => f.persistent);
      for (const f of gpu.faults) this.kernelLog.append(now, xidMessage(gpu.kernel_pci, f.xid));
    }
  }

  /** The next process id; other activity on the host takes a few in between. */
  nextPid(): number {
    this.lastPid += 1 + Math.floor(Math.random() * 6);
    return this.lastPid;
  }

  gpu(index: number): SimGpu | undefined {
    return this.gpus[index];
  }

  /**
   * Logs the Xid for the GPU's PCI address now and applies its effect. With a
   * recovery action the driver follows it with its Xid 154 line.
   */
  injectXid(gpuIndex: number, xid: number, persistent: boolean, now: Date, recoveryAction?: RecoveryAction): KernelLine[] {
    const gpu = this.requireGpu(gpuIndex);
    const logged = [this.kernelLog.append(now, xidMessage(gpu.kernel_pci, xid))];
    const existing = gpu.faults.find((f) => f.xid === xid);
    if (existing) existing.persistent = existing.persistent || persistent;
    else gpu.faults.push({ xid, persistent });
    if (recoveryAction !== undefined) {
      logged.push(this.kernelLog.append(now, recoveryActionMessage(gpu.kernel_pci, gpu.recovery_action, recoveryAction)));
      gpu.recovery_action = recoveryAction;
    }
    return logged;
  }

  /** A process (pid, name) that keeps the GPU open until the host reboots. */
  holdGpu(gpuIndex: number, name: string): StrayGpuProcess {
    this.requireGpu(gpuIndex);
    const stray = { gpu_index: gpuIndex, pid: this.nextPid(), name };
    this.strayProcesses.push(stray);
    return stray;
  }

  omitFromDiag(gpuIndex: number): void {
    this.requireGpu(gpuIndex);
    this.diagOmitted.add(gpuIndex);
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
    gpu.recovery_action = 'none';
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
      driver: { loaded: this.driverLoaded, installed: this.driverInstalled },
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
        diag_omitted: this.diagOmitted.has(g.index),
        recovery_action: g.recovery_action,
        faults: g.faults,
      })),
      host_engine_down: this.hostEngineDown,
      stray_processes: this.strayProcesses,
      kernel_log_lines: this.kernelLog.lineCount,
      files: [...this.files.keys()],
    };
  }
}
