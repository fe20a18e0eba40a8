import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseGpuTable } from '../../capabilities/gpu/parse-gpu-table';

const fixture = (name: string): string => readFileSync(join(__dirname, '../fixtures/gpu/nvidia-smi', name), 'utf8');

describe('parseGpuTable', () => {
  it('parses a healthy 8x H100 node', () => {
    const table = parseGpuTable(fixture('healthy-8xh100.csv'), '', 0);
    expect(table.node_error).toBeUndefined();
    expect(table.lost_gpus).toEqual([]);
    expect(table.raw_errors).toEqual([]);
    expect(table.gpus.map((g) => g.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(table.gpus.map((g) => g.pci_bus_id)).toEqual([
      '0000:19:00',
      '0000:3b:00',
      '0000:4c:00',
      '0000:5d:00',
      '0000:9b:00',
      '0000:bb:00',
      '0000:cb:00',
      '0000:db:00',
    ]);
    expect(table.gpus[3]).toEqual({
      index: 3,
      uuid: 'GPU-d2b6f8a1-7e09-4c5d-8f3a-6b4e1d9c0a28',
      pci_bus_id: '0000:5d:00',
      name: 'NVIDIA H100 80GB HBM3',
      driver_version: '550.90.07',
      temperature_c: 32,
      memory_used_mib: 0,
      memory_total_mib: 81559,
      ecc_uncorrected_volatile: 0,
      retired_pages_pending: { unavailable: '[N/A]' },
      remapped_rows_pending: false,
      remapped_rows_failure: false,
      persistence_mode: true,
      requires_reset: false,
    });
    expect(table.gpus.every((g) => !g.requires_reset)).toBe(true);
  });

  it('reads a pending row remap and the volatile ECC count', () => {
    const table = parseGpuTable(fixture('remap-pending.csv'), '', 0);
    const gpu3 = table.gpus.find((g) => g.index === 3)!;
    expect(gpu3.remapped_rows_pending).toBe(true);
    expect(gpu3.remapped_rows_failure).toBe(false);
    expect(gpu3.ecc_uncorrected_volatile).toBe(1);
    expect(gpu3.memory_used_mib).toBe(1022);
    expect(table.gpus.filter((g) => g.remapped_rows_pending === true)).toHaveLength(1);
  });

  it('reads a row remap failure', () => {
    const table = parseGpuTable(fixture('remap-failure.csv'), '', 0);
    const gpu3 = table.gpus.find((g) => g.index === 3)!;
    expect(gpu3.remapped_rows_failure).toBe(true);
    expect(gpu3.remapped_rows_pending).toBe(false);
  });

  it('flags a GPU whose cells read [GPU requires reset] and keeps the raw placeholders', () => {
    const table = parseGpuTable(fixture('requires-reset.csv'), '', 0);
    const gpu5 = table.gpus.find((g) => g.index === 5)!;
    expect(gpu5.requires_reset).toBe(true);
    expect(gpu5.temperature_c).toEqual({ unavailable: '[GPU requires reset]' });
    expect(gpu5.ecc_uncorrected_volatile).toEqual({ unavailable: '[GPU requires reset]' });
    expect(gpu5.remapped_rows_pending).toEqual({ unavailable: '[GPU requires reset]' });
    expect(gpu5.retired_pages_pending).toEqual({ unavailable: '[N/A]' });
    expect(gpu5.persistence_mode).toBe(false);
    expect(table.gpus.filter((g) => g.requires_reset).map((g) => g.index)).toEqual([5]);
  });

  it('uses a header line when present, tolerating units, blank lines and old placeholders', () => {
    const table = parseGpuTable(fixture('legacy-with-header.csv'), '', 0);
    expect(table.raw_errors).toEqual([]);
    expect(table.gpus).toHaveLength(2);
    const [v0, v1] = table.gpus;
    expect(v0!.pci_bus_id).toBe('0000:06:00');
    expect(v0!.memory_used_mib).toBe(1024);
    expect(v0!.memory_total_mib).toBe(32768);
    expect(v0!.retired_pages_pending).toBe(true);
    expect(v0!.remapped_rows_pending).toEqual({ unavailable: '[N/A]' });
    expect(v0!.persistence_mode).toBe(false);
    expect(v1!.temperature_c).toEqual({ unavailable: '[Unknown Error]' });
    expect(v1!.ecc_uncorrected_volatile).toEqual({ unavailable: '[Not Supported]' });
    expect(v1!.remapped_rows_failure).toEqual({ unavailable: '[Not Supported]' });
    expect(v1!.persistence_mode).toBe(true);
  });

  it('maps columns by header name even when the order differs', () => {
    const stdout = [
      'pci.bus_id, index, uuid, remapped_rows.failure, name',
      '00000000:AB:00.0, 4, GPU-0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f, Yes, NVIDIA H100 80GB HBM3',
    ].join('\n');
    const [gpu] = parseGpuTable(stdout, '', 0).gpus;
    expect(gpu).toMatchObject({ index: 4, pci_bus_id: '0000:ab:00', remapped_rows_failure: true });
    expect(gpu!.persistence_mode).toEqual({ unavailable: '[missing]' });
  });

  it('accepts 1/0 and true/false encodings for the memory flags', () => {
    const stdout =
      '0, GPU-x, 00000000:18:00.0, NVIDIA A100-SXM4-80GB, 535.183.01, 30, 0, 81920, 0, 0, 1, 0, 1\n' +
      '1, GPU-y, 00000000:19:00.0, NVIDIA A100-SXM4-80GB, 535.183.01, 30, 0, 81920, 0, false, false, true, 0\n';
    const { gpus } = parseGpuTable(stdout, '', 0);
    expect(gpus[0]).toMatchObject({ retired_pages_pending: false, remapped_rows_pending: true, remapped_rows_failure: false, persistence_mode: true });
    expect(gpus[1]).toMatchObject({ retired_pages_pending: false, remapped_rows_pending: false, remapped_rows_failure: true, persistence_mode: false });
  });

  it('keeps surviving GPUs and records a lost GPU from stderr', () => {
    const table = parseGpuTable(fixture('lost-gpu.stdout.csv'), fixture('lost-gpu.stderr.txt'), 15);
    expect(table.gpus).toHaveLength(7);
    expect(table.gpus.some((g) => g.pci_bus_id === '0000:4c:00')).toBe(false);
    expect(table.lost_gpus).toEqual(['0000:4c:00']);
    expect(table.node_error).toBeUndefined();
    expect(table.raw_errors).toHaveLength(1);
    expect(table.raw_errors[0]).toMatch(/GPU is lost/);
  });

  it('records a lost GPU printed on stdout with nothing else', () => {
    const stdout = 'Unable to determine the device handle for GPU 0000:05:00.0: GPU is lost.  Reboot the system to recover this GPU\n';
    const table = parseGpuTable(stdout, '', 15);
    expect(table.gpus).toEqual([]);
    expect(table.lost_gpus).toEqual(['0000:05:00']);
    expect(table.node_error).toBeUndefined();
  });

  it.each([
    ['driver-not-loaded.txt', 9, 'driver_not_loaded'],
    ['nvml-mismatch.txt', 18, 'nvml_mismatch'],
    ['no-devices.txt', 6, 'no_devices'],
    ['invalid-field.txt', 2, 'unknown'],
  ] as const)('recognises the whole-command failure in %s', (file, exitCode, kind) => {
    const table = parseGpuTable(fixture(file), '', exitCode);
    expect(table.gpus).toEqual([]);
    expect(table.node_error).toBe(kind);
    expect(table.raw_errors.length).toBeGreaterThan(0);
  });

  it('recognises a failure message on stderr', () => {
    const table = parseGpuTable('', fixture('driver-not-loaded.txt'), 9);
    expect(table.node_error).toBe('driver_not_loaded');
  });

  it('falls back to the exit status when the output says nothing recognisable', () => {
    expect(parseGpuTable('', '', 9).node_error).toBe('driver_not_loaded');
    expect(parseGpuTable('', 'Segmentation fault', 139).node_error).toBe('unknown');
    expect(parseGpuTable('', '', 0).node_error).toBe('unknown');
  });

  it('keeps unparseable lines as raw errors without failing the good rows', () => {
    const stdout = fixture('healthy-8xh100.csv') + 'garbage line without fields\n';
    const table = parseGpuTable(stdout, '', 0);
    expect(table.gpus).toHaveLength(8);
    expect(table.raw_errors).toEqual(['garbage line without fields']);
    expect(table.node_error).toBeUndefined();
  });
});
