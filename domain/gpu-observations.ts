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
}

export type DiagStatus = 'pass' | 'fail' | 'skip';

export interface DiagTestResult {
  category: string;
  test: string;
  entity_id: number | null;
  status: DiagStatus;
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
  runtime_error?: string;
}
