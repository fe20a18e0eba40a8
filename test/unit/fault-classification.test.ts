import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGpuTable } from '../../activities/gpu/parse-gpu-table';
import { parseKernelXids } from '../../activities/gpu/parse-kernel-xids';
import { classifyFindings, compareActions } from '../../domain/fault-classification';
import { FAULT_ACTIONS } from '../../domain/gpu-fault';
import type { GpuTable, KernelXidEvent } from '../../domain/gpu-observations';
import { normalizePciBusId, tryNormalizePciBusId } from '../../domain/pci';

const fixture = (name: string): string => readFileSync(join(__dirname, '../fixtures/gpu', name), 'utf8');
const table = (file: string, stderr = '', exitCode = 0): GpuTable =>
  parseGpuTable(fixture(`nvidia-smi/${file}`), stderr, exitCode);
const healthy = (): GpuTable => table('healthy-8xh100.csv');
const xid = (code: number, pci: string, message = ''): KernelXidEvent => ({
  xid: code,
  pci_bus_id: pci,
  message,
  raw: `NVRM: Xid (PCI:${pci}): ${code}, ${message}`,
});

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
    expect(c).toEqual({ action: 'none', fault_found: false, decisive: null, findings: [], affected_gpus: [] });
  });

  it('sends a pending row remap to reset_gpu for that GPU only', () => {
    const c = classifyFindings(table('remap-pending.csv'), []);
    expect(c.action).toBe('reset_gpu');
    expect(c.fault_found).toBe(true);
    expect(c.findings.map((f) => f.reason)).toEqual([
      'GPU 3 (0000:5d:00): row remap pending, needs a GPU reset to apply',
      'GPU 3 (0000:5d:00): 1 uncorrectable ECC error(s) since driver load',
    ]);
    expect(c.decisive).toMatchObject({ source: 'nvidia_smi', gpu_index: 3, gpu_uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28' });
    expect(c.affected_gpus).toEqual([{ index: 3, uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28', pci_bus_id: '0000:5d:00' }]);
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

  it('keeps Xid 154 at its catalogue action and names the driver request in the reason', () => {
    const c = classifyFindings(healthy(), [
      xid(154, '0000:19:00', 'GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)'),
    ]);
    expect(c.action).toBe('drain_and_diagnose');
    expect(c.decisive?.reason).toMatch(/driver requests "Node Reboot Required"$/);
  });

  it('lets the most severe finding decide across a mixed kernel log and lists only its GPUs', () => {
    const events = parseKernelXids(fixture('kernel/mixed-prefixes.txt'));
    const c = classifyFindings(healthy(), events);
    // 79 on 0000:4c:00 (GPU 2) is the only reboot_node finding in the log.
    expect(c.action).toBe('reboot_node');
    expect(c.decisive).toMatchObject({ xid: 79, gpu_index: 2 });
    expect(c.affected_gpus.map((g) => g.index)).toEqual([2]);
    expect(c.findings).toHaveLength(11);
    const byXid = Object.fromEntries(c.findings.map((f) => [f.xid, f.action]));
    expect(byXid).toMatchObject({ 13: 'restart_app', 45: 'none', 48: 'reset_gpu', 63: 'none', 94: 'restart_app', 119: 'reset_gpu' });
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
