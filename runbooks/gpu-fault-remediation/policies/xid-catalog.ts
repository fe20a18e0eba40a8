/**
 * Xid catalogue as plain data: one row per Xid the engine knows, with the
 * action the fleet takes when the Xid appears on its own. Kept free of I/O and
 * runtime imports so workflow code can bundle it.
 */
import type { FaultAction } from '../input';

export type XidCategory = 'driver' | 'application' | 'interconnect' | 'memory' | 'thermal_power' | 'gsp_firmware' | 'hardware' | 'unknown';
export type XidSeverity = 'warning' | 'info' | 'critical';

export interface XidEntry {
  readonly xid: number;
  readonly name: string;
  readonly category: XidCategory;
  readonly severity: XidSeverity;
  readonly recommended_action: FaultAction;
}

const row = (xid: number, name: string, category: XidCategory, severity: XidSeverity, recommended_action: FaultAction): XidEntry => ({
  xid,
  name,
  category,
  severity,
  recommended_action,
});

export const XID_CATALOG: readonly XidEntry[] = Object.freeze([
  row(8, 'GPU stopped processing - idle timeout (ROBUST_CHANNEL_FIFO_ERROR_IDLE_TIMEOUT)', 'driver', 'warning', 'restart_app'),
  row(13, 'Graphics Engine Exception (ROBUST_CHANNEL_GR_EXCEPTION)', 'application', 'warning', 'restart_app'),
  row(31, 'GPU memory page fault (ROBUST_CHANNEL_FIFO_ERROR_MMU_ERR_FLT)', 'application', 'warning', 'restart_app'),
  row(32, 'Invalid or corrupted push buffer stream (ROBUST_CHANNEL_PBDMA_ERROR)', 'interconnect', 'warning', 'restart_app'),
  row(43, 'GPU stopped processing - app fault (ROBUST_CHANNEL_RESETCHANNEL_VERIF_ERROR)', 'application', 'info', 'none'),
  row(45, 'Preemptive cleanup after earlier errors (ROBUST_CHANNEL_PREEMPTIVE_REMOVAL)', 'driver', 'info', 'none'),
  row(46, 'GPU stopped processing - GPU timeout (ROBUST_CHANNEL_GPU_TIMEOUT_ERROR)', 'driver', 'critical', 'reset_gpu'),
  row(48, 'Double Bit ECC Error (ROBUST_CHANNEL_GPU_ECC_DBE)', 'memory', 'critical', 'reset_gpu'),
  row(54, 'Auxiliary power not connected to the board (SILENT_RUNNING_PWR_REDUCED_CLOCKING)', 'thermal_power', 'critical', 'drain_and_diagnose'),
  row(61, 'Internal micro-controller breakpoint/warning (PMU_BREAKPOINT)', 'gsp_firmware', 'warning', 'reset_gpu'),
  row(62, 'Internal micro-controller halt (PMU_HALT_ERROR)', 'gsp_firmware', 'critical', 'reset_gpu'),
  row(63, 'GPU memory remapping / page-retirement recorded (INFOROM_DRAM_RETIREMENT_EVENT)', 'memory', 'warning', 'none'),
  row(64, 'GPU memory remapping / page-retirement failure (INFOROM_DRAM_RETIREMENT_FAILURE)', 'memory', 'critical', 'reset_gpu'),
  row(68, 'NVDEC0 (video decoder) exception (ROBUST_CHANNEL_NVDEC0_ERROR)', 'application', 'warning', 'restart_app'),
  row(69, 'Graphics Engine class error (ROBUST_CHANNEL_GR_CLASS_ERROR)', 'application', 'warning', 'restart_app'),
  row(74, 'NVLink error (NVLINK_ERROR)', 'interconnect', 'critical', 'reset_gpu'),
  row(79, 'GPU has fallen off the bus (ROBUST_CHANNEL_GPU_HAS_FALLEN_OFF_THE_BUS)', 'hardware', 'critical', 'reboot_node'),
  row(80, 'Corrupted data sent to GPU (PBDMA_PUSHBUFFER_CRC_MISMATCH)', 'interconnect', 'warning', 'restart_app'),
  row(92, 'High single-bit ECC error rate (EXCESSIVE_SBE_INTERRUPTS)', 'memory', 'warning', 'none'),
  row(93, 'InfoROM erase limit exceeded (INFOROM_ERASE_LIMIT_EXCEEDED)', 'hardware', 'info', 'none'),
  row(94, 'Contained memory error (ROBUST_CHANNEL_CONTAINED_ERROR)', 'memory', 'warning', 'restart_app'),
  row(95, 'Uncontained memory error (ROBUST_CHANNEL_UNCONTAINED_ERROR)', 'memory', 'critical', 'reset_gpu'),
  row(109, 'Context switch timeout (ROBUST_CHANNEL_CTXSW_TIMEOUT_ERROR)', 'driver', 'warning', 'reset_gpu'),
  row(110, 'Security fault (SEC_FAULT_ERROR)', 'hardware', 'critical', 'reboot_node'),
  row(119, 'GSP RPC timeout (GSP_RPC_TIMEOUT)', 'gsp_firmware', 'critical', 'reset_gpu'),
  row(120, 'GSP error (GSP_ERROR)', 'gsp_firmware', 'critical', 'reset_gpu'),
  row(121, 'C2C link corrected error (C2C_ERROR)', 'interconnect', 'info', 'none'),
  row(136, 'NVLink link training failed (ALI_TRAINING_FAIL)', 'interconnect', 'critical', 'reset_gpu'),
  row(137, 'NVLink privilege error (NVLINK_PRIV_ERR)', 'application', 'warning', 'none'),
  row(140, 'ECC unrecovered error (UNRECOVERABLE_ECC_ERROR_ESCAPE)', 'memory', 'critical', 'reset_gpu'),
  row(143, 'GPU initialization error (GPU_INIT_ERROR)', 'hardware', 'critical', 'reset_gpu'),
  row(144, 'NVLink5 SAW error (NVLINK_SAW_ERROR)', 'interconnect', 'warning', 'drain_and_diagnose'),
  row(145, 'NVLink5 RLW error (NVLINK_RLW_ERROR)', 'interconnect', 'warning', 'drain_and_diagnose'),
  row(146, 'NVLink5 TLW error (NVLINK_TLW_ERROR)', 'interconnect', 'warning', 'drain_and_diagnose'),
  row(147, 'NVLink5 TREX error (NVLINK_TREX_ERROR)', 'interconnect', 'info', 'none'),
  row(148, 'NVLink5 NVLPW_CTRL error (NVLINK_NVLPW_CTRL_ERROR)', 'interconnect', 'info', 'none'),
  row(149, 'NVLink5 NETIR error (NVLINK_NETIR_ERROR)', 'interconnect', 'critical', 'reset_gpu'),
  row(150, 'NVLink5 MSE error (NVLINK_MSE_ERROR)', 'interconnect', 'critical', 'reset_gpu'),
  row(154, 'GPU recovery action changed (GPU_RECOVERY_ACTION_CHANGED)', 'driver', 'critical', 'drain_and_diagnose'),
  row(155, 'NVLink software-defined error / intentional link down (NVLINK_SW_DEFINED_ERROR)', 'interconnect', 'warning', 'reset_gpu'),
  row(156, 'Resource retirement event (RESOURCE_RETIREMENT_EVENT)', 'hardware', 'warning', 'reset_gpu'),
  row(157, 'Resource retirement failure (RESOURCE_RETIREMENT_FAILURE)', 'hardware', 'critical', 'rma_candidate'),
  row(158, 'GPU fatal timeout (GPU_FATAL_TIMEOUT)', 'unknown', 'critical', 'reset_gpu'),
  row(159, 'CHI non-data error (ROBUST_CHANNEL_CHI_NON_DATA_ERROR)', 'interconnect', 'warning', 'none'),
  row(163, 'Power-smoothing circuitry disengaged (PSHC_DISENGAGED)', 'thermal_power', 'warning', 'none'),
  row(164, 'Power-smoothing circuitry low lifetime (PSHC_LOW_LIFETIME)', 'thermal_power', 'warning', 'none'),
  row(165, 'Power-smoothing circuitry lifetime exhausted (PSHC_ZERO_LIFETIME)', 'thermal_power', 'warning', 'rma_candidate'),
  row(171, 'Uncorrectable DRAM error detail (UNCORRECTABLE_DRAM_ERROR)', 'memory', 'critical', 'reset_gpu'),
  row(172, 'Uncorrectable SRAM error detail (UNCORRECTABLE_SRAM_ERROR)', 'memory', 'critical', 'drain_and_diagnose'),
]);

const BY_XID: ReadonlyMap<number, XidEntry> = new Map(XID_CATALOG.map((e) => [e.xid, e]));

export function lookupXid(xid: number): XidEntry | undefined {
  return BY_XID.get(xid);
}
