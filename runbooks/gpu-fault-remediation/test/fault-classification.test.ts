import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGpuTable } from '../../../capabilities/gpu/parse-gpu-table';
import { parseKernelXids } from '../../../capabilities/gpu/parse-kernel-xids';
import { classifyFindings, compareActions, recoveryActionToFaultAction } from '../policies/fault-classification';
import { FAULT_ACTIONS } from '../input';
import type { GpuTable, KernelXidEvent } from '../../../domain/gpu-observations';
import { normalizePciBusId, tryNormalizePciBusId } from '../../../domain/pci';

const fixture = (name: string): string => readFileSync(join(__dirname, '../../../test/fixtures/gpu', name), 'utf8');
const table = (file: string, stderr = '', exitCode = 0): GpuTable => parseGpuTable(fixture(`nvidia-smi/${file}`), stderr, exitCode);
const healthy = (): GpuTable => table('healthy-8xh100.csv');
/** An event as an older parser recorded it: no timestamp, no parsed Xid 154 fields. */
const xid = (code: number, pci: string, message = ''): KernelXidEvent => ({
  xid: code,
  pci_bus_id: pci,
  message,
  raw: `NVRM: Xid (PCI:${pci}): ${code}, ${message}`,
});
/** Kernel log lines as `journalctl -k -o short-iso-precise` prints them, parsed. */
const journal = (...lines: string[]): KernelXidEvent[] => parseKernelXids(lines.map((l) => `2026-11-22T${l}`).join('\n'));
/**
 * The healthy 8x H100 table with GPU rows changed the way nvidia-smi would
 * print them: ecc = ecc.errors.uncorrected.volatile.total, pending =
 * remapped_rows.pending, failure = remapped_rows.failure.
 */
const healthyWith = (changes: Record<number, { ecc?: string; pending?: string; failure?: string }>): GpuTable => {
  const rows = fixture('nvidia-smi/healthy-8xh100.csv')
    .trimEnd()
    .split('\n')
    .map((line) => {
      const cells = line.split(', ');
      const change = changes[Number(cells[0])];
      if (change?.ecc !== undefined) cells[8] = change.ecc;
      if (change?.pending !== undefined) cells[10] = change.pending;
      if (change?.failure !== undefined) cells[11] = change.failure;
      return cells.join(', ');
    });
  return parseGpuTable(rows.join('\n') + '\n', '', 0);
};
const GPU3 = { index: 3, uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28', pci_bus_id: '0000:5d:00' };
const DBE_48 =
  "NVRM: Xid (PCI:0000:5d:00): 48, pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x3c1f20a40 partition 2, subpartition 0";
const DRAM_171 = "NVRM: Xid (PCI:0000:5d:00): 171, pid='<unknown>', name=<unknown>, Uncorrectable DRAM error in FBPA 3 subpartition 0 physAddr 0x3c1f20a40";
const REMAP_63 = 'NVRM: Xid (PCI:0000:5d:00): 63, pid=88213, Row Remapper: New row marked for remapping, reset gpu to activate.';
const recovery154 = (pci: string, to: string): string => `NVRM: Xid (PCI:${pci}): 154, GPU recovery action changed from 0x0 (None) to ${to}`;

describe('normalizePciBusId', () => {
  it.each([
    ['00000000:5D:00.0', '0000:5d:00'],
    ['PCI:0000:5d:00', '0000:5d:00'],
    ['0000:5d:00', '0000:5d:00'],
    ['0000:5d:00.0', '0000:5d:00'],
    ['(PCI:0000:01:00 GPU-I:05)', '0000:01:00'],
    ['PCI:0000:01:00 GPU-I:5', '0000:01:00'],
    ['00000018:01:00.0', '0018:01:00'],
    ['  00000000:AB:00.0 ', '0000:ab:00'],
    ['3b:00.0', '0000:3b:00'],
  ])('%s -> %s', (raw, expected) => {
    expect(normalizePciBusId(raw)).toBe(expected);
  });

  it('rejects text that is not a PCI address', () => {
    expect(tryNormalizePciBusId('GPU-0b8f6d2c')).toBeNull();
    expect(tryNormalizePciBusId('')).toBeNull();
    expect(normalizePciBusId(' Not-A-Bus ')).toBe('not-a-bus');
  });
});

describe('compareActions', () => {
  it('orders actions by FAULT_ACTIONS', () => {
    expect(compareActions('none', 'restart_app')).toBeLessThan(0);
    expect(compareActions('rma_candidate', 'reboot_node')).toBeGreaterThan(0);
    expect(compareActions('reset_gpu', 'reset_gpu')).toBe(0);
    const shuffled = ['reboot_node', 'none', 'rma_candidate', 'reset_gpu', 'restart_app', 'drain_and_diagnose'] as const;
    expect([...shuffled].sort(compareActions)).toEqual([...FAULT_ACTIONS]);
  });
});

describe('classifyFindings', () => {
  it('finds nothing on a healthy node with a clean log', () => {
    const c = classifyFindings(healthy(), []);
    expect(c).toEqual({ action: 'none', fault_found: false, decisive: null, findings: [], affected_gpus: [], maintenance: [] });
  });

  it('resets a GPU whose uncorrectable ECC count no Xid explains, as one finding with its pending remap', () => {
    // No Xid in the log accounts for the ECC error, so it counts as uncontained:
    // the pending remap is then not maintenance-only.
    const c = classifyFindings(table('remap-pending.csv'), []);
    expect(c.action).toBe('reset_gpu');
    expect(c.fault_found).toBe(true);
    expect(c.findings.map((f) => f.reason)).toEqual([
      'GPU 3 (0000:5d:00): 1 uncorrectable ECC error(s) since driver load that no Xid in the log accounts for (treated as uncontained); row remap pending, applied at the next GPU reset',
    ]);
    expect(c.decisive).toMatchObject({ source: 'nvidia_smi', gpu_index: 3, gpu_uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28' });
    expect(c.affected_gpus).toEqual([GPU3]);
    expect(c.maintenance).toEqual([]);
  });

  it('makes a row remap failure an RMA candidate', () => {
    const c = classifyFindings(table('remap-failure.csv'), []);
    expect(c.action).toBe('rma_candidate');
    expect(c.decisive?.reason).toMatch(/row remapping failed/);
    expect(c.affected_gpus.map((g) => g.index)).toEqual([3]);
  });

  it('routes a [GPU requires reset] GPU to reset even without an Xid', () => {
    const c = classifyFindings(table('requires-reset.csv'), []);
    expect(c.action).toBe('reset_gpu');
    expect(c.findings).toHaveLength(1);
    expect(c.affected_gpus.map((g) => g.index)).toEqual([5]);
  });

  it('routes pending page retirement (pre-Ampere) to reset', () => {
    const c = classifyFindings(table('legacy-with-header.csv'), []);
    expect(c.action).toBe('reset_gpu');
    expect(c.decisive?.reason).toBe('GPU 0 (0000:06:00): page retirement pending, needs a GPU reset to apply');
  });

  it('reboots the node for a lost GPU, listing it with index -1', () => {
    const c = classifyFindings(table('lost-gpu.stdout.csv', fixture('nvidia-smi/lost-gpu.stderr.txt'), 15), [
      xid(79, '0000:4c:00', 'GPU has fallen off the bus.'),
    ]);
    expect(c.action).toBe('reboot_node');
    expect(c.findings.map((f) => [f.source, f.action])).toEqual([
      ['kernel_xid', 'reboot_node'],
      ['nvidia_smi', 'reboot_node'],
    ]);
    expect(c.affected_gpus).toEqual([{ index: -1, uuid: '', pci_bus_id: '0000:4c:00' }]);
  });

  it.each([
    ['driver-not-loaded.txt', 9, 'reboot_node'],
    ['nvml-mismatch.txt', 18, 'reboot_node'],
    ['no-devices.txt', 6, 'reboot_node'],
    ['invalid-field.txt', 2, 'drain_and_diagnose'],
  ] as const)('acts on the node-level failure in %s', (file, exitCode, action) => {
    const c = classifyFindings(table(file, '', exitCode), []);
    expect(c.action).toBe(action);
    expect(c.fault_found).toBe(true);
    expect(c.affected_gpus).toEqual([]);
    expect(c.decisive?.pci_bus_id).toBeUndefined();
  });

  it('uses the catalogue action for an Xid and joins it to the table', () => {
    const c = classifyFindings(healthy(), [xid(48, '0000:5d:00', 'An uncorrectable double bit error (DBE)')]);
    expect(c.action).toBe('reset_gpu');
    expect(c.decisive).toEqual({
      source: 'kernel_xid',
      action: 'reset_gpu',
      reason: 'Xid 48 on GPU 3 (0000:5d:00): Double Bit ECC Error (ROBUST_CHANNEL_GPU_ECC_DBE)',
      xid: 48,
      xid_name: 'Double Bit ECC Error (ROBUST_CHANNEL_GPU_ECC_DBE)',
      pci_bus_id: '0000:5d:00',
      gpu_index: 3,
      gpu_uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28',
      xids: [48],
    });
    expect(c.affected_gpus.map((g) => g.index)).toEqual([3]);
  });

  it('counts an application Xid as a fault found, with restart_app', () => {
    const c = classifyFindings(healthy(), [xid(13, '0000:9b:00'), xid(13, '0000:9b:00'), xid(13, '0000:9b:00')]);
    expect(c.fault_found).toBe(true);
    expect(c.action).toBe('restart_app');
    expect(c.findings).toHaveLength(1);
    expect(c.findings[0]!.reason).toMatch(/^Xid 13 on GPU 4 \(0000:9b:00\) \(3 times\): Graphics Engine Exception/);
  });

  it('never lets Xid 45 alone drive more than none, but still reports it', () => {
    const c = classifyFindings(healthy(), [xid(45, '0000:19:00')]);
    expect(c).toMatchObject({ action: 'none', fault_found: true });
    expect(c.findings[0]).toMatchObject({ xid: 45, action: 'none', gpu_index: 0 });
    expect(c.affected_gpus.map((g) => g.index)).toEqual([0]);
  });

  it('drains and diagnoses an Xid missing from the catalogue', () => {
    const c = classifyFindings(healthy(), [xid(999, '0000:bb:00')]);
    expect(c.action).toBe('drain_and_diagnose');
    expect(c.decisive?.xid_name).toBeUndefined();
    expect(c.decisive?.reason).toBe('Xid 999 on GPU 5 (0000:bb:00) is not in the catalogue; drain and diagnose');
  });

  it('acts on the recovery an Xid 154 requests, read from the message of an event recorded without the parsed field', () => {
    const c = classifyFindings(healthy(), [xid(154, '0000:19:00', 'GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)')]);
    expect(c.action).toBe('reboot_node');
    expect(c.decisive).toMatchObject({ xid: 154, recovery_action: 'node_reboot', recovery_action_text: 'Node Reboot Required' });
    expect(c.decisive?.reason).toMatch(/Xid 154: driver requests "Node Reboot Required" \(0x2\)$/);
  });

  it('lets the most severe finding decide across a mixed kernel log and lists only its GPUs', () => {
    const events = parseKernelXids(fixture('kernel/mixed-prefixes.txt'));
    const c = classifyFindings(healthy(), events);
    // 79 → 154 (0x2) on 0000:4c:00 (GPU 2) is the only reboot_node event in the log.
    expect(c.action).toBe('reboot_node');
    expect(c.decisive).toMatchObject({ xid: 79, xids: [79, 154], gpu_index: 2, recovery_action: 'node_reboot' });
    expect(c.affected_gpus.map((g) => g.index)).toEqual([2]);
    // 11 Xid lines, 8 events: 48 → 63 on GPU 3, 13 → 45 on GPU 4 and 79 → 154 on GPU 2 are one event each.
    expect(c.findings.map((f) => [f.gpu_index, f.xids, f.action])).toEqual([
      [3, [48, 63], 'reset_gpu'],
      [4, [13, 45], 'restart_app'],
      [1, [31], 'restart_app'],
      [5, [119], 'reset_gpu'],
      [6, [94], 'restart_app'],
      [2, [79, 154], 'reboot_node'],
      [7, [46], 'reset_gpu'],
      [0, [74], 'reset_gpu'],
    ]);
    // GPU 3's staged remap is applied by its own reset, so it is not left for maintenance.
    expect(c.maintenance).toEqual([]);
  });

  it('lists every GPU that shares the decisive action, sorted by index', () => {
    const c = classifyFindings(table('remap-pending.csv'), [xid(74, '0000:db:00'), xid(46, '0000:19:00'), xid(13, '0000:3b:00')]);
    expect(c.action).toBe('reset_gpu');
    expect(c.affected_gpus.map((g) => [g.index, g.pci_bus_id])).toEqual([
      [0, '0000:19:00'],
      [3, '0000:5d:00'],
      [7, '0000:db:00'],
    ]);
  });

  it('joins Xid and table ids written in different spellings', () => {
    const t = healthy();
    const c = classifyFindings(t, [xid(48, 'PCI:0000:5D:00')]);
    expect(c.decisive?.gpu_index).toBe(3);
  });

  it('lets an RMA-grade memory finding outrank a rebootable Xid', () => {
    const c = classifyFindings(table('remap-failure.csv'), [xid(79, '0000:4c:00')]);
    expect(c.action).toBe('rma_candidate');
    expect(c.affected_gpus.map((g) => g.index)).toEqual([3]);
  });
});

describe('classifyFindings: one fault, one event', () => {
  it('makes 48 → 171 → 63 → 154 on one GPU one event that the 154 decides, with its counters as evidence', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:15:30.102498+00:00 gpu-a017 kernel: ${DRAM_171}`,
      `10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x2 (Node Reboot Required)')}`,
    );
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes' } }), events);
    expect(c.findings).toHaveLength(1);
    // The 154 asks for a reboot, above Xid 48's catalogue reset.
    expect(c.action).toBe('reboot_node');
    expect(c.decisive).toMatchObject({
      source: 'kernel_xid',
      xid: 48,
      xids: [48, 171, 63, 154],
      gpu_index: 3,
      first_seen: '2026-11-22T10:15:30.102311+00:00',
      last_seen: '2026-11-22T10:15:30.517204+00:00',
      recovery_action: 'node_reboot',
      counters: { ecc_uncorrected_volatile: 1, remapped_rows_pending: true },
    });
    expect(c.decisive?.reason).toBe(
      'Xid 48 on GPU 3 (0000:5d:00): Double Bit ECC Error (ROBUST_CHANNEL_GPU_ECC_DBE) (burst 48 → 171 → 63 → 154); ' +
        'Xid 154: driver requests "Node Reboot Required" (0x2); accounts for 1 uncorrectable ECC error(s) since driver load; row remap pending',
    );
    expect(c.affected_gpus).toEqual([GPU3]);
    expect(c.maintenance).toEqual([]);
  });

  it('gives Xid 48 with its ECC count and pending remap the catalogue action of 48, in one finding', () => {
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes' } }), journal(`10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`));
    expect(c.action).toBe('reset_gpu');
    expect(c.findings).toHaveLength(1);
    expect(c.decisive).toMatchObject({ xid: 48, action: 'reset_gpu', counters: { ecc_uncorrected_volatile: 1, remapped_rows_pending: true } });
    expect(c.affected_gpus).toEqual([GPU3]);
    // The reset applies the remap, so nothing is left for a maintenance window.
    expect(c.maintenance).toEqual([]);
  });

  it("lets the 154 decide even when it asks for less than the burst's other Xids (Drain P2P after an Xid 48)", () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x3 (Drain P2P)')}`,
    );
    const c = classifyFindings(healthy(), events);
    expect(c.action).toBe('drain_and_diagnose');
    expect(c.decisive).toMatchObject({ xid: 48, recovery_action: 'drain_p2p', recovery_action_text: 'Drain P2P' });
  });

  it('reports an event whose 154 says None with action none, as a fault found', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 94, pid=7062, Contained: CE User Channel (0x9). RST: No, D-RST: No`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x0 (None)')}`,
    );
    const c = classifyFindings(healthy(), events);
    expect(c).toMatchObject({ action: 'none', fault_found: true, affected_gpus: [GPU3] });
    expect(c.decisive).toMatchObject({ xid: 94, recovery_action: 'none' });
  });

  it("takes the newest 154 of a burst as the driver's current request", () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x4 (Drain and Reset)')}`,
      `10:15:41.002177+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 154, GPU recovery action changed from 0x4 (Drain and Reset) to 0x2 (Node Reboot Required)`,
    );
    const c = classifyFindings(healthy(), events);
    expect(c.findings).toHaveLength(1);
    expect(c.action).toBe('reboot_node');
    expect(c.decisive?.recovery_action).toBe('node_reboot');
  });

  it('maps a Drain and Reset request to a GPU reset', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x4 (Drain and Reset)')}`,
    );
    expect(classifyFindings(healthy(), events).action).toBe('reset_gpu');
  });

  it('reads 62 → 45 → 119 → 154 as one GSP event led by the most disruptive Xid, the 45 only collateral', () => {
    const events = journal(
      `10:16:01.880412+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:bb:00): 62, pid='<unknown>', name=<unknown>, 0000(0000) 00000000 00000000`,
      `10:16:01.880917+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:bb:00): 45, pid=2024380, name=python3, Ch 00000010`,
      `10:16:08.004513+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:bb:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU5 GSP! Expected function 76 (GSP_RM_CONTROL) (0x2080014b 0x5).`,
      `10:16:08.005121+00:00 gpu-a017 kernel: ${recovery154('0000:bb:00', '0x1 (GPU Reset Required)')}`,
    );
    const c = classifyFindings(healthy(), events);
    expect(c.findings).toHaveLength(1);
    // 62 and 119 are both reset_gpu in the catalogue; the first of equals leads.
    expect(c.decisive).toMatchObject({ xid: 62, xids: [62, 45, 119, 154], gpu_index: 5, action: 'reset_gpu', recovery_action: 'gpu_reset' });
  });

  it('splits Xids on one GPU more than three minutes apart into two events', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:25:02.331870+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 13, pid=88213, name=python3, Graphics SM Warp Exception on (GPC 4, TPC 1, SM 1): Out Of Range Address`,
      `10:25:02.331990+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x0 (None)')}`,
    );
    const c = classifyFindings(healthy(), events);
    expect(c.findings.map((f) => [f.xids, f.action])).toEqual([
      [[48], 'reset_gpu'],
      [[13, 154], 'none'],
    ]);
    // The later 154 speaks for its own burst, not for the earlier Xid 48.
    expect(c.action).toBe('reset_gpu');
    expect(c.decisive?.xid).toBe(48);
  });

  it('keeps a burst open at exactly the window and honours a configured window', () => {
    const at = (time: string) =>
      `${time}+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:9b:00): 13, pid=88213, name=python3, Graphics SM Warp Exception on (GPC 4, TPC 1, SM 1): Out Of Range Address`;
    const threeMinutes = journal(at('10:00:00.000000'), at('10:03:00.000000'));
    expect(classifyFindings(healthy(), threeMinutes).findings).toHaveLength(1);
    const justOver = journal(at('10:00:00.000000'), at('10:03:00.000001'));
    expect(classifyFindings(healthy(), justOver).findings).toHaveLength(2);
    expect(classifyFindings(healthy(), justOver, { burst_window_seconds: 600 }).findings).toHaveLength(1);
  });

  it("treats one GPU's lines without timestamps as one burst", () => {
    const c = classifyFindings(healthy(), [
      xid(79, '0000:4c:00', 'GPU has fallen off the bus.'),
      xid(154, '0000:4c:00', 'GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)'),
    ]);
    expect(c.findings).toHaveLength(1);
    expect(c.decisive).toMatchObject({ xid: 79, xids: [79, 154], action: 'reboot_node' });
  });

  it('lets the most disruptive event decide across GPUs and lists only the GPUs whose event has that action', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`,
      `10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`,
      `10:15:30.517204+00:00 gpu-a017 kernel: ${recovery154('0000:5d:00', '0x1 (GPU Reset Required)')}`,
      `10:15:31.000000+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:9b:00): 13, pid=88213, name=python3, Graphics SM Warp Exception on (GPC 4, TPC 1, SM 1): Out Of Range Address`,
      `10:15:33.204511+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:db:00): 74, pid='<unknown>', name=<unknown>, NVLink: fatal error detected on link 7(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)`,
    );
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes' } }), events);
    expect(c.findings.map((f) => [f.gpu_index, f.action])).toEqual([
      [3, 'reset_gpu'],
      [4, 'restart_app'],
      [7, 'reset_gpu'],
    ]);
    expect(c.action).toBe('reset_gpu');
    expect(c.affected_gpus.map((g) => g.index)).toEqual([3, 7]);

    const withLost = classifyFindings(healthy(), [
      ...events,
      ...journal(`10:15:35.000000+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:4c:00): 79, GPU has fallen off the bus.`),
    ]);
    expect(withLost.action).toBe('reboot_node');
    expect(withLost.affected_gpus.map((g) => g.index)).toEqual([2]);
  });
});

describe('classifyFindings: staged memory repairs', () => {
  it('keeps a node with only a pending row remap in service and lists the GPU for maintenance', () => {
    const c = classifyFindings(healthyWith({ 3: { pending: 'Yes' } }), []);
    expect(c).toMatchObject({ action: 'none', fault_found: true });
    expect(c.findings).toEqual([
      {
        source: 'nvidia_smi',
        action: 'none',
        reason: 'GPU 3 (0000:5d:00): row remap pending, applied at the next GPU reset',
        pci_bus_id: '0000:5d:00',
        gpu_index: 3,
        gpu_uuid: GPU3.uuid,
      },
    ]);
    expect(c.maintenance).toEqual([{ ...GPU3, reason: 'row remap pending; applied at the next GPU reset' }]);
  });

  it('treats an Xid 63 row remap alone as maintenance, not a drain', () => {
    const c = classifyFindings(healthy(), journal(`10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`));
    expect(c.action).toBe('none');
    expect(c.decisive).toMatchObject({ xid: 63, action: 'none' });
    expect(c.maintenance).toEqual([{ ...GPU3, reason: 'row remap recorded (Xid 63); applied at the next GPU reset' }]);
  });

  it('names a page retirement Xid 63 as such in the maintenance entry', () => {
    const c = classifyFindings(
      healthy(),
      journal(
        '10:15:30.110257+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 63, pid=88213, Dynamic Page Retirement: New retired page, reload the driver to activate.',
      ),
    );
    expect(c.maintenance.map((m) => m.reason)).toEqual(['page retirement recorded (Xid 63); applied at the next driver reload or GPU reset']);
  });

  it('restarts the app for a contained error (Xid 94) and leaves its remap for maintenance', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 94, pid=7062, Contained: CE User Channel (0x9). RST: No, D-RST: No`,
      `10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`,
    );
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes' } }), events);
    expect(c.action).toBe('restart_app');
    expect(c.findings).toHaveLength(1);
    expect(c.decisive).toMatchObject({ xid: 94, xids: [94, 63], counters: { ecc_uncorrected_volatile: 1, remapped_rows_pending: true } });
    expect(c.maintenance).toEqual([{ ...GPU3, reason: 'row remap pending; applied at the next GPU reset' }]);
  });

  it('does not treat a pending remap after an uncontained error (Xid 95) as maintenance-only', () => {
    const events = journal(
      `10:15:30.102311+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 95, pid=7062, Uncontained: LTC TAG (0x2,0x0). RST: Yes, D-RST: No`,
      `10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`,
    );
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes' } }), events);
    expect(c.action).toBe('reset_gpu');
    expect(c.findings).toHaveLength(1);
    expect(c.decisive).toMatchObject({ xid: 95, counters: { ecc_uncorrected_volatile: 1, remapped_rows_pending: true } });
    expect(c.affected_gpus).toEqual([GPU3]);
    expect(c.maintenance).toEqual([]);
  });

  it('handles an Xid 94 whose message says Uncontained like an Xid 95', () => {
    const c = classifyFindings(
      healthyWith({ 3: { ecc: '1', pending: 'Yes' } }),
      journal('10:15:30.102311+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 94, pid=7062, Uncontained: LTC TAG (0x2,0x0). RST: Yes, D-RST: No'),
    );
    expect(c.action).toBe('reset_gpu');
    expect(c.decisive?.reason).toMatch(/uncontained error, handled as Xid 95/);
    expect(c.maintenance).toEqual([]);
  });

  it('resets when the ECC count has no explaining Xid, even with an Xid 63 in the log', () => {
    // 63 records the remap, not the uncorrectable error itself; the 48/94/95 that
    // would say whether it was contained is missing, so assume it was not.
    const c = classifyFindings(healthyWith({ 3: { ecc: '2', pending: 'Yes' } }), journal(`10:15:30.110257+00:00 gpu-a017 kernel: ${REMAP_63}`));
    expect(c.action).toBe('reset_gpu');
    expect(c.findings.map((f) => [f.source, f.action])).toEqual([
      ['kernel_xid', 'none'],
      ['nvidia_smi', 'reset_gpu'],
    ]);
    expect(c.findings[0]!.counters).toEqual({ remapped_rows_pending: true });
    expect(c.findings[1]!.reason).toMatch(/^GPU 3 \(0000:5d:00\): 2 uncorrectable ECC error\(s\) since driver load that no Xid in the log accounts for/);
    expect(c.maintenance).toEqual([]);
  });

  it('lists a pending remap for maintenance while another GPU decides the node action', () => {
    const c = classifyFindings(
      healthyWith({ 3: { pending: 'Yes' } }),
      journal(`10:15:33.204511+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:db:00): 74, pid='<unknown>', name=<unknown>, NVLink: fatal error detected on link 7`),
    );
    expect(c.action).toBe('reset_gpu');
    expect(c.affected_gpus.map((g) => g.index)).toEqual([7]);
    expect(c.maintenance.map((m) => m.index)).toEqual([3]);
  });

  it('keeps a row remapping failure an RMA candidate next to the event that caused it', () => {
    const c = classifyFindings(healthyWith({ 3: { ecc: '1', pending: 'Yes', failure: 'Yes' } }), journal(`10:15:30.102311+00:00 gpu-a017 kernel: ${DBE_48}`));
    expect(c.action).toBe('rma_candidate');
    expect(c.findings.map((f) => [f.source, f.action])).toEqual([
      ['kernel_xid', 'reset_gpu'],
      ['nvidia_smi', 'rma_candidate'],
    ]);
    expect(c.affected_gpus).toEqual([GPU3]);
  });
});

describe('recoveryActionToFaultAction', () => {
  it.each([
    ['none', 'none'],
    ['gpu_reset', 'reset_gpu'],
    ['node_reboot', 'reboot_node'],
    ['drain_p2p', 'drain_and_diagnose'],
    ['drain_and_reset', 'reset_gpu'],
    ['unknown', 'drain_and_diagnose'],
  ] as const)('%s -> %s', (requested, action) => {
    expect(recoveryActionToFaultAction(requested)).toBe(action);
  });
});
