/**
 * What the engine observes on a GPU host, as plain data. Parsers in
 * activities/gpu produce these; the classifier in domain/ consumes them.
 */

/** A cell that nvidia-smi could not fill: "[N/A]", "[Not Supported]", "[GPU requires reset]", ... */
export interface Unavailable {
  unavailable: string;
}
export type Cell<T> = T | Unavailable;

export interface GpuRow {
  index: number;
  uuid: string;
  /** Normalised lowercase "dddd:bb:dd" (see normalizePciBusId). */
  pci_bus_id: string;
  name: string;
  driver_version: string;
  temperature_c: Cell<number>;
  memory_used_mib: Cell<number>;
  memory_total_mib: Cell<number>;
  ecc_uncorrected_volatile: Cell<number>;
  retired_pages_pending: Cell<boolean>;
  remapped_rows_pending: Cell<boolean>;
  remapped_rows_failure: Cell<boolean>;
  persistence_mode: Cell<boolean>;
  /** True when any cell read "[GPU requires reset]". */
  requires_reset: boolean;
}

export interface GpuTable {
  gpus: GpuRow[];
  /** PCI ids of GPUs nvidia-smi reported as lost ("GPU is lost", Xid 79 class). */
  lost_gpus: string[];
  /** Whole-command failure recognised from the output (driver not loaded, NVML mismatch, no devices). */
  node_error?: 'driver_not_loaded' | 'nvml_mismatch' | 'no_devices' | 'unknown';
  raw_errors: string[];
}

/**
 * The recovery an Xid 154 line asks for (NVML enum: 0 none, 1 GPU reset, 2 node
 * reboot, 3 drain P2P, 4 drain and reset). 'unknown' when neither the number
 * nor the text is one of those.
 */
export type XidRecoveryAction = 'none' | 'gpu_reset' | 'node_reboot' | 'drain_p2p' | 'drain_and_reset' | 'unknown';

export interface KernelXidEvent {
  xid: number;
  /** Normalised lowercase "dddd:bb:dd". */
  pci_bus_id: string;
  /** Timestamp prefix exactly as printed, when present. */
  timestamp?: string;
  pid?: number;
  process_name?: string;
  message: string;
  raw: string;
  /** Xid 154 only: the recovery action the driver changed to. */
  recovery_action?: XidRecoveryAction;
  /** Xid 154 only: the numeric value printed for it ("0x2" → 2), when present. */
  recovery_action_code?: number;
  /** Xid 154 only: the driver's own words for it, as printed ("Node Reboot Required", "PF FLR"). */
  recovery_action_text?: string;
}

export type DiagStatus = 'pass' | 'fail' | 'skip';

export interface DiagTestResult {
  category: string;
  test: string;
  entity_id: number | null;
  status: DiagStatus;
  /**
   * DCGM 3 Deployment checks report one result for the whole GPU group and name
   * a GPU only when it fails; such a group-wide result is marked here so that a
   * Pass counts for every GPU of the run (see DiagSummary.gpus_in_run).
   */
  all_gpus?: true;
  warnings: { message: string; error_id?: number; error_severity?: number; error_category?: number }[];
}

export interface DiagSummary {
  /** 'pass' only when at least one test ran and none failed. */
  overall: 'pass' | 'fail' | 'error';
  dcgm_version?: string;
  format: 'dcgm4' | 'dcgm3' | 'unknown';
  level?: number;
  results: DiagTestResult[];
  /** GPU entity ids with at least one failed result. */
  failed_gpus: number[];
  /**
   * GPU ids the document says the run covered (DCGM 4 "entity_groups", DCGM 3
   * "GPU Device Serials" / "GPU Device IDs"), sorted; absent when it does not say.
   */
  gpus_in_run?: number[];
  runtime_error?: string;
}
