/**
 * Decides what to do about a GPU node from what was observed on it: the
 * nvidia-smi table and the kernel Xid events. Pure; safe to call from workflow
 * code.
 *
 * One fault, one finding: the Xids one fault produces on a GPU (a burst, see
 * xid-bursts.ts) are one event, and the memory counters those Xids explain
 * (volatile uncorrectable ECC, pending row remap) are evidence of that event
 * rather than findings of their own, so a counter an Xid caused cannot outrank
 * the Xid's own action. An event's action is its most disruptive Xid's
 * catalogue action, unless the burst carries an Xid 154: then the driver's
 * requested recovery decides. The most disruptive finding across GPUs decides
 * the node's action.
 */
import { FAULT_ACTIONS, type FaultAction } from '../input';
import type { GpuRow, GpuTable, KernelXidEvent, XidRecoveryAction } from '../../../domain/gpu-observations';
import { normalizePciBusId } from '../../../domain/pci';
import { groupXidBursts, XID_BURST_WINDOW_SECONDS, type XidBurst } from './xid-bursts';
import { lookupXid } from './xid-catalog';
import { parseXidRecoveryAction } from '../../../domain/xid-recovery';

/** GPU counters an Xid event accounts for; kept as evidence, not acted on separately. */
export interface AttributedCounters {
  ecc_uncorrected_volatile?: number;
  remapped_rows_pending?: true;
}

export interface Finding {
  source: 'kernel_xid' | 'nvidia_smi';
  action: FaultAction;
  reason: string;
  /** The event's leading Xid: its most disruptive one by catalogue (154 only when alone). */
  xid?: number;
  xid_name?: string;
  pci_bus_id?: string;
  gpu_index?: number;
  gpu_uuid?: string;
  /** Every Xid of the event's burst, in log order (repeats kept). */
  xids?: number[];
  /** Timestamps of the burst's first and last lines, as printed, when they have one. */
  first_seen?: string;
  last_seen?: string;
  /** Set when an Xid 154 in the burst decided the action: what the driver asked for. */
  recovery_action?: XidRecoveryAction;
  recovery_action_text?: string;
  counters?: AttributedCounters;
}

export interface AffectedGpu {
  index: number;
  uuid: string;
  pci_bus_id: string;
}

/**
 * A GPU with a memory repair staged for its next reset (pending row remap, Xid
 * 63) that this classification does not reset. Running work may continue; the
 * run reports it so the reset happens at a later maintenance window.
 */
export interface MaintenanceItem extends AffectedGpu {
  reason: string;
}

export interface Classification {
  action: FaultAction;
  fault_found: boolean;
  decisive: Finding | null;
  findings: Finding[];
  affected_gpus: AffectedGpu[];
  maintenance: MaintenanceItem[];
}

export interface ClassifyOptions {
  /** Quiet gap in seconds that ends a burst on one GPU (default XID_BURST_WINDOW_SECONDS, 180). */
  burst_window_seconds?: number;
}

/** Negative when `a` is less disruptive than `b`, by FAULT_ACTIONS order. */
export function compareActions(a: FaultAction, b: FaultAction): number {
  return FAULT_ACTIONS.indexOf(a) - FAULT_ACTIONS.indexOf(b);
}

/** Xid 45 is collateral of other Xids or of a killed process; alone it asks for nothing. */
const XID_COLLATERAL = 45;
/** Xid 154 carries the driver's own recovery request in its text. */
const XID_RECOVERY_ACTION = 154;
/** A row remap or page retirement recorded; applied at the next GPU reset / driver reload. */
const XID_REPAIR_STAGED = 63;
const XID_CONTAINED = 94;
const XID_UNCONTAINED = 95;
/** Xids that report an uncorrectable memory error, i.e. account for the volatile uncorrectable ECC count. */
const XIDS_UNCORRECTABLE_MEMORY = new Set([48, 94, 95, 140, 171, 172]);
/** Xids of the DRAM error → row remap chain, i.e. account for a pending row remap. */
const XIDS_ROW_REMAP = new Set([48, 63, 64, 94, 95, 140, 171]);

/**
 * The driver's requested recovery as a fleet action. Drain P2P asks to stop
 * peer-to-peer users, disable persistence and query the recovery action again,
 * resetting only if it is still set; the engine has no "stop P2P and re-query"
 * step, and a reset would act before that second look, so the node is drained
 * and held for diagnosis instead. Drain and Reset lets running work finish
 * before the reset; this engine resets only after the node is drained anyway.
 */
export function recoveryActionToFaultAction(action: XidRecoveryAction): FaultAction {
  switch (action) {
    case 'none':
      return 'none';
    case 'gpu_reset':
    case 'drain_and_reset':
      return 'reset_gpu';
    case 'node_reboot':
      return 'reboot_node';
    case 'drain_p2p':
    case 'unknown':
      return 'drain_and_diagnose';
  }
}

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

/** An Xid 94 whose text says the error escaped containment is handled like an Xid 95. */
function isUncontained(event: KernelXidEvent): boolean {
  return event.xid === XID_UNCONTAINED || (event.xid === XID_CONTAINED && /\buncontained\b/i.test(event.message));
}

/** What one Xid asks for on its own. */
function xidAction(event: KernelXidEvent): FaultAction {
  if (event.xid === XID_COLLATERAL) return 'none';
  if (isUncontained(event)) return lookupXid(XID_UNCONTAINED)?.recommended_action ?? 'reset_gpu';
  return lookupXid(event.xid)?.recommended_action ?? 'drain_and_diagnose';
}

function recoveryOf(event: KernelXidEvent): { action: XidRecoveryAction; code?: number; text: string } {
  if (event.recovery_action !== undefined) {
    const out: { action: XidRecoveryAction; code?: number; text: string } = {
      action: event.recovery_action,
      text: event.recovery_action_text ?? '',
    };
    if (event.recovery_action_code !== undefined) out.code = event.recovery_action_code;
    return out;
  }
  // Events recorded before the parser filled the field in: read the message.
  return parseXidRecoveryAction(event.message);
}

/** "48 → 171 → 63 → 154", with runs of one Xid folded ("13 ×3"). */
function burstSequence(xids: number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < xids.length;) {
    let j = i;
    while (j < xids.length && xids[j] === xids[i]) j += 1;
    parts.push(j - i > 1 ? `${xids[i]} ×${j - i}` : String(xids[i]));
    i = j;
  }
  return parts.join(' → ');
}

interface EventVerdict {
  burst: XidBurst;
  finding: Finding;
  explainsEcc: boolean;
  explainsRemap: boolean;
  /** Text of the Xid 63 that staged a repair, when the burst has one. */
  stagedRepair?: string;
}

function eventVerdict(burst: XidBurst, gpu: GpuRow | undefined): EventVerdict {
  const { events } = burst;
  const where = gpu ? gpuLabel(gpu) : `GPU ${burst.pci_bus_id}`;
  const xids = events.map((e) => e.xid);

  // The leading Xid: most disruptive by its own action, first on ties. A 154
  // says what to do about the others, so it leads only when it is alone.
  const candidates = events.filter((e) => e.xid !== XID_RECOVERY_ACTION);
  let lead = candidates[0] ?? events[0]!;
  for (const e of candidates) if (compareActions(xidAction(e), xidAction(lead)) > 0) lead = e;
  const entry = lookupXid(lead.xid);
  const single = new Set(xids).size === 1;
  const times = single && events.length > 1 ? ` (${events.length} times)` : '';

  let action: FaultAction = lead.xid === XID_RECOVERY_ACTION ? 'drain_and_diagnose' : xidAction(lead);
  let reason: string;
  if (lead.xid === XID_COLLATERAL && single) {
    reason = `Xid 45 on ${where}${times}: channel teardown, acted on only through a companion Xid`;
  } else if (entry) {
    reason = `Xid ${lead.xid} on ${where}${times}: ${entry.name}`;
  } else {
    reason = `Xid ${lead.xid} on ${where}${times} is not in the catalogue; drain and diagnose`;
  }
  if (isUncontained(lead) && lead.xid === XID_CONTAINED) reason += '; the message reports an uncontained error, handled as Xid 95';
  if (!single) reason += ` (burst ${burstSequence(xids)})`;

  const finding: Finding = { source: 'kernel_xid', action, reason, xid: lead.xid, pci_bus_id: burst.pci_bus_id };
  if (entry) finding.xid_name = entry.name;
  withGpu(finding, gpu);
  finding.xids = xids;
  const stamps = events.map((e) => e.timestamp).filter((t): t is string => t !== undefined);
  if (stamps.length > 0) {
    finding.first_seen = stamps[0]!;
    finding.last_seen = stamps[stamps.length - 1]!;
  }

  // The newest 154 of the burst is the driver's current request and decides.
  const newest154 = [...events].reverse().find((e) => e.xid === XID_RECOVERY_ACTION);
  if (newest154) {
    const requested = recoveryOf(newest154);
    action = recoveryActionToFaultAction(requested.action);
    const code = requested.code !== undefined ? `0x${requested.code.toString(16)}` : '';
    const said = requested.text !== '' ? `"${requested.text}"${code && ` (${code})`}` : code || 'an unreadable action';
    finding.reason += `; Xid 154: driver requests ${said}`;
    finding.action = action;
    finding.recovery_action = requested.action;
    if (requested.text !== '') finding.recovery_action_text = requested.text;
  }

  const staged = events.find((e) => e.xid === XID_REPAIR_STAGED);
  const verdict: EventVerdict = {
    burst,
    finding,
    explainsEcc: events.some((e) => XIDS_UNCORRECTABLE_MEMORY.has(e.xid)),
    explainsRemap: events.some((e) => XIDS_ROW_REMAP.has(e.xid)),
  };
  if (staged) verdict.stagedRepair = staged.message;
  return verdict;
}

/** The newest event of the GPU that satisfies `test`. */
function newestOf(events: EventVerdict[], test: (e: EventVerdict) => boolean): EventVerdict | undefined {
  for (let i = events.length - 1; i >= 0; i -= 1) if (test(events[i]!)) return events[i];
  return undefined;
}

export function classifyFindings(table: GpuTable, xids: KernelXidEvent[], options: ClassifyOptions = {}): Classification {
  const window = options.burst_window_seconds ?? XID_BURST_WINDOW_SECONDS;
  const byPci = new Map<string, GpuRow>();
  for (const gpu of table.gpus) byPci.set(normalizePciBusId(gpu.pci_bus_id), gpu);

  const events = groupXidBursts(xids, window).map((b) => eventVerdict(b, byPci.get(b.pci_bus_id)));
  const eventsByPci = new Map<string, EventVerdict[]>();
  for (const e of events) {
    const list = eventsByPci.get(e.burst.pci_bus_id) ?? [];
    list.push(e);
    eventsByPci.set(e.burst.pci_bus_id, list);
  }

  const findings: Finding[] = events.map((e) => e.finding);
  const smi: Finding[] = [];
  if (table.node_error !== undefined) {
    // Unrecognised failures are held for a person rather than rebooting blind.
    const action: FaultAction = table.node_error === 'unknown' ? 'drain_and_diagnose' : 'reboot_node';
    smi.push({ source: 'nvidia_smi', action, reason: NODE_ERROR_TEXT[table.node_error] });
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
    smi.push(withGpu(finding, gpu));
  }

  /** GPUs with a repair staged for the next reset, with the words to report it in. */
  const staged = new Map<string, string>();
  for (const gpu of table.gpus) {
    const pci = normalizePciBusId(gpu.pci_bus_id);
    const own = eventsByPci.get(pci) ?? [];
    const add = (action: FaultAction, what: string): void => {
      smi.push(withGpu({ source: 'nvidia_smi', action, reason: `${gpuLabel(gpu)}: ${what}`, pci_bus_id: pci }, gpu));
    };
    if (isTrue(gpu.remapped_rows_failure)) add('rma_candidate', 'row remapping failed (RMA criterion)');

    // Counters go to the newest event whose Xids explain them. What no Xid
    // explains is a finding of its own; an uncorrectable ECC count nothing
    // accounts for is treated as uncontained.
    const unexplained: string[] = [];
    let unexplainedAction: FaultAction = 'none';
    const ecc = gpu.ecc_uncorrected_volatile;
    if (typeof ecc === 'number' && ecc > 0) {
      const owner = newestOf(own, (e) => e.explainsEcc);
      if (owner) {
        owner.finding.counters = { ...owner.finding.counters, ecc_uncorrected_volatile: ecc };
        owner.finding.reason += `; accounts for ${ecc} uncorrectable ECC error(s) since driver load`;
      } else {
        unexplained.push(`${ecc} uncorrectable ECC error(s) since driver load that no Xid in the log accounts for (treated as uncontained)`);
        unexplainedAction = 'reset_gpu';
      }
    }
    if (isTrue(gpu.remapped_rows_pending)) {
      staged.set(pci, 'row remap pending; applied at the next GPU reset');
      const owner = newestOf(own, (e) => e.explainsRemap);
      if (owner) {
        owner.finding.counters = { ...owner.finding.counters, remapped_rows_pending: true };
        owner.finding.reason += '; row remap pending';
      } else {
        unexplained.push('row remap pending, applied at the next GPU reset');
      }
    }
    if (unexplained.length > 0) add(unexplainedAction, unexplained.join('; '));

    if (isTrue(gpu.retired_pages_pending)) add('reset_gpu', 'page retirement pending, needs a GPU reset to apply');
    if (gpu.requires_reset) add('reset_gpu', 'nvidia-smi reports the GPU requires a reset');
  }
  findings.push(...smi);

  // An Xid 63 stages a repair even where the table shows no pending flag (the
  // table may be from a GPU without the field, or the GPU may be missing from it).
  for (const [pci, own] of eventsByPci) {
    if (staged.has(pci)) continue;
    const repair = newestOf(own, (e) => e.stagedRepair !== undefined)?.stagedRepair;
    if (repair === undefined) continue;
    staged.set(
      pci,
      /page retirement|reload the driver/i.test(repair)
        ? 'page retirement recorded (Xid 63); applied at the next driver reload or GPU reset'
        : 'row remap recorded (Xid 63); applied at the next GPU reset',
    );
  }

  let decisive: Finding | null = null;
  for (const f of findings) {
    if (decisive === null || compareActions(f.action, decisive.action) > 0) decisive = f;
  }
  const action: FaultAction = decisive?.action ?? 'none';

  const affected = new Map<string, AffectedGpu>();
  const strongest = new Map<string, FaultAction>();
  for (const f of findings) {
    if (f.pci_bus_id === undefined) continue;
    const before = strongest.get(f.pci_bus_id);
    if (before === undefined || compareActions(f.action, before) > 0) strongest.set(f.pci_bus_id, f.action);
    if (f.action !== action || affected.has(f.pci_bus_id)) continue;
    const gpu = byPci.get(f.pci_bus_id);
    affected.set(f.pci_bus_id, { index: gpu ? gpu.index : -1, uuid: gpu ? gpu.uuid : '', pci_bus_id: f.pci_bus_id });
  }
  const byIndex = <T extends AffectedGpu>(a: T, b: T): number => a.index - b.index || a.pci_bus_id.localeCompare(b.pci_bus_id);
  const affected_gpus = [...affected.values()].sort(byIndex);

  // A staged repair needs a reset; a GPU this classification resets (or whose
  // node it reboots through its own fault) gets it then. Others keep running
  // and are listed for a later maintenance reset, per NVIDIA's guidance that
  // unaffected work can continue while a remap is pending.
  const maintenance: MaintenanceItem[] = [];
  for (const [pci, reason] of staged) {
    if (compareActions(strongest.get(pci) ?? 'none', 'reset_gpu') >= 0) continue;
    const gpu = byPci.get(pci);
    maintenance.push({ index: gpu ? gpu.index : -1, uuid: gpu ? gpu.uuid : '', pci_bus_id: pci, reason });
  }
  maintenance.sort(byIndex);

  return { action, fault_found: findings.length > 0, decisive, findings, affected_gpus, maintenance };
}
