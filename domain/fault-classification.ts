/**
 * Decides what to do about a GPU node from what was observed on it: the
 * nvidia-smi table and the kernel Xid events. Pure; safe to call from workflow
 * code. The most disruptive finding decides the action.
 */
import { FAULT_ACTIONS, type FaultAction } from './gpu-fault';
import type { GpuRow, GpuTable, KernelXidEvent } from './gpu-observations';
import { normalizePciBusId } from './pci';
import { lookupXid } from './xid-catalog';

export interface Finding {
  source: 'kernel_xid' | 'nvidia_smi';
  action: FaultAction;
  reason: string;
  xid?: number;
  xid_name?: string;
  pci_bus_id?: string;
  gpu_index?: number;
  gpu_uuid?: string;
}

export interface AffectedGpu {
  index: number;
  uuid: string;
  pci_bus_id: string;
}

export interface Classification {
  action: FaultAction;
  fault_found: boolean;
  decisive: Finding | null;
  findings: Finding[];
  affected_gpus: AffectedGpu[];
}

/** Negative when `a` is less disruptive than `b`, by FAULT_ACTIONS order. */
export function compareActions(a: FaultAction, b: FaultAction): number {
  return FAULT_ACTIONS.indexOf(a) - FAULT_ACTIONS.indexOf(b);
}

/** Xid 45 is collateral of other Xids or of a killed process; alone it asks for nothing. */
const XID_COLLATERAL = 45;
/** Xid 154 carries the driver's own recovery request in its text. */
const XID_RECOVERY_ACTION = 154;

const NODE_ERROR_TEXT: Record<NonNullable<GpuTable['node_error']>, string> = {
  driver_not_loaded: 'nvidia-smi cannot talk to the NVIDIA driver (driver not loaded or wedged)',
  nvml_mismatch: 'NVML driver/library version mismatch (driver upgraded without reboot)',
  no_devices: 'the driver sees no GPUs at all',
  unknown: 'nvidia-smi failed without usable output',
};

function isTrue(cell: GpuRow['remapped_rows_pending']): boolean {
  return cell === true;
}

function gpuLabel(gpu: GpuRow): string {
  return `GPU ${gpu.index} (${gpu.pci_bus_id})`;
}

function withGpu(finding: Finding, gpu: GpuRow | undefined): Finding {
  if (gpu) {
    finding.gpu_index = gpu.index;
    finding.gpu_uuid = gpu.uuid;
  }
  return finding;
}

function xidFindings(xids: KernelXidEvent[], byPci: Map<string, GpuRow>): Finding[] {
  // One finding per distinct (xid, GPU); bursts of the same Xid are counted.
  const groups = new Map<string, { event: KernelXidEvent; pci: string; count: number }>();
  for (const event of xids) {
    const pci = normalizePciBusId(event.pci_bus_id);
    const key = `${event.xid}@${pci}`;
    const g = groups.get(key);
    if (g) g.count += 1;
    else groups.set(key, { event, pci, count: 1 });
  }

  const findings: Finding[] = [];
  for (const { event, pci, count } of groups.values()) {
    const entry = lookupXid(event.xid);
    const gpu = byPci.get(pci);
    const where = gpu ? gpuLabel(gpu) : `GPU ${pci}`;
    const times = count > 1 ? ` (${count} times)` : '';
    let action: FaultAction;
    let reason: string;
    if (event.xid === XID_COLLATERAL) {
      action = 'none';
      reason = `Xid 45 on ${where}${times}: channel teardown, acted on only through a companion Xid`;
    } else if (entry) {
      action = entry.recommended_action;
      reason = `Xid ${event.xid} on ${where}${times}: ${entry.name}`;
      if (event.xid === XID_RECOVERY_ACTION) {
        const requested = /\bto\s+0x[0-9a-f]+\s*\(([^)]*)\)/i.exec(event.message);
        if (requested) reason += `; driver requests "${requested[1]}"`;
      }
    } else {
      action = 'drain_and_diagnose';
      reason = `Xid ${event.xid} on ${where}${times} is not in the catalogue; drain and diagnose`;
    }
    const finding: Finding = { source: 'kernel_xid', action, reason, xid: event.xid, pci_bus_id: pci };
    if (entry) finding.xid_name = entry.name;
    findings.push(withGpu(finding, gpu));
  }
  return findings;
}

function smiFindings(table: GpuTable, byPci: Map<string, GpuRow>): Finding[] {
  const findings: Finding[] = [];
  if (table.node_error !== undefined) {
    // Unrecognised failures are held for a person rather than rebooting blind.
    const action: FaultAction = table.node_error === 'unknown' ? 'drain_and_diagnose' : 'reboot_node';
    findings.push({ source: 'nvidia_smi', action, reason: NODE_ERROR_TEXT[table.node_error] });
  }
  for (const rawPci of table.lost_gpus) {
    const pci = normalizePciBusId(rawPci);
    const gpu = byPci.get(pci);
    const finding: Finding = {
      source: 'nvidia_smi',
      action: 'reboot_node',
      reason: `${gpu ? gpuLabel(gpu) : `GPU ${pci}`} is lost (off the bus); only a node reboot recovers it`,
      pci_bus_id: pci,
    };
    findings.push(withGpu(finding, gpu));
  }
  for (const gpu of table.gpus) {
    const add = (action: FaultAction, what: string): void => {
      findings.push(
        withGpu({ source: 'nvidia_smi', action, reason: `${gpuLabel(gpu)}: ${what}`, pci_bus_id: gpu.pci_bus_id }, gpu),
      );
    };
    if (isTrue(gpu.remapped_rows_failure)) add('rma_candidate', 'row remapping failed (RMA criterion)');
    if (isTrue(gpu.remapped_rows_pending)) add('reset_gpu', 'row remap pending, needs a GPU reset to apply');
    if (typeof gpu.ecc_uncorrected_volatile === 'number' && gpu.ecc_uncorrected_volatile > 0) {
      add('reset_gpu', `${gpu.ecc_uncorrected_volatile} uncorrectable ECC error(s) since driver load`);
    }
    if (isTrue(gpu.retired_pages_pending)) add('reset_gpu', 'page retirement pending, needs a GPU reset to apply');
    if (gpu.requires_reset) add('reset_gpu', 'nvidia-smi reports the GPU requires a reset');
  }
  return findings;
}

export function classifyFindings(table: GpuTable, xids: KernelXidEvent[]): Classification {
  const byPci = new Map<string, GpuRow>();
  for (const gpu of table.gpus) byPci.set(normalizePciBusId(gpu.pci_bus_id), gpu);

  const findings = [...xidFindings(xids, byPci), ...smiFindings(table, byPci)];
  let decisive: Finding | null = null;
  for (const f of findings) {
    if (decisive === null || compareActions(f.action, decisive.action) > 0) decisive = f;
  }
  const action: FaultAction = decisive?.action ?? 'none';

  const affected = new Map<string, AffectedGpu>();
  for (const f of findings) {
    if (f.action !== action || f.pci_bus_id === undefined || affected.has(f.pci_bus_id)) continue;
    const gpu = byPci.get(f.pci_bus_id);
    affected.set(f.pci_bus_id, {
      index: gpu ? gpu.index : -1,
      uuid: gpu ? gpu.uuid : '',
      pci_bus_id: f.pci_bus_id,
    });
  }
  const affected_gpus = [...affected.values()].sort(
    (a, b) => a.index - b.index || a.pci_bus_id.localeCompare(b.pci_bus_id),
  );

  return { action, fault_found: findings.length > 0, decisive, findings, affected_gpus };
}
