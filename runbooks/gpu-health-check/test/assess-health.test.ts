import type { GpuRow, GpuTable } from '../../../domain/gpu-observations';
import { assessGpuHealth } from '../policies/assess-health';

const row = (index: number, over: Partial<GpuRow> = {}): GpuRow => ({
  index,
  uuid: `GPU-${index}`,
  pci_bus_id: `00000000:${(0x18 + index).toString(16)}:00.0`,
  name: 'NVIDIA H100 80GB HBM3',
  driver_version: '550.90.07',
  temperature_c: 35,
  memory_used_mib: 0,
  memory_total_mib: 81559,
  ecc_uncorrected_volatile: 0,
  retired_pages_pending: false,
  remapped_rows_pending: false,
  remapped_rows_failure: false,
  persistence_mode: true,
  requires_reset: false,
  ...over,
});
const table = (gpus: GpuRow[], over: Partial<GpuTable> = {}): GpuTable => ({ gpus, lost_gpus: [], raw_errors: [], ...over });
const eight = () => [...Array(8).keys()].map((i) => row(i));

test('eight clean GPUs of eight → healthy', () => {
  expect(assessGpuHealth(table(eight()), 8)).toEqual({ healthy: true, problems: [] });
});

test('every problem is named, GPU by GPU, in table order', () => {
  const gpus = eight();
  gpus[2] = row(2, { ecc_uncorrected_volatile: 3, remapped_rows_pending: true });
  gpus[5] = row(5, { remapped_rows_failure: true, requires_reset: true });
  expect(assessGpuHealth(table(gpus), 8).problems).toEqual([
    'GPU 2: 3 uncorrected ECC error(s)',
    'GPU 2: row remap pending (applied at the next GPU reset)',
    'GPU 5: row remapping failed',
    'GPU 5: requires a reset',
  ]);
});

test('a missing or lost GPU, or a driver that will not answer, is unhealthy', () => {
  expect(assessGpuHealth(table(eight().slice(0, 7), { lost_gpus: ['00000000:1E:00.0'] }), 8).problems).toEqual([
    '7 of 8 GPUs visible',
    'GPU 00000000:1E:00.0 lost',
  ]);
  expect(assessGpuHealth(table([], { node_error: 'driver_not_loaded' }), 8).problems).toEqual(['nvidia-smi: driver_not_loaded', '0 of 8 GPUs visible']);
});

test('a field nvidia-smi cannot read ([N/A]) is not a problem by itself', () => {
  const gpus = eight();
  gpus[1] = row(1, { ecc_uncorrected_volatile: { unavailable: '[N/A]' }, remapped_rows_pending: { unavailable: '[N/A]' } });
  expect(assessGpuHealth(table(gpus), 8).healthy).toBe(true);
});
