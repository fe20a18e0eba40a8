/**
 * Parser for `nvidia-smi --query-gpu=<GPU_QUERY_FIELDS> --format=csv,noheader,nounits`.
 * Pure: takes what the command printed and its exit status, returns a GpuTable.
 */
import type { Cell, GpuRow, GpuTable, Unavailable } from '../../domain/gpu-observations';
import { normalizePciBusId, tryNormalizePciBusId } from '../../domain/pci';
import { GPU_QUERY_FIELDS } from './commands';

type QueryField = (typeof GPU_QUERY_FIELDS)[number];

/** Header spellings other than the field name itself. */
const FIELD_ALIASES: Record<string, QueryField> = {
  gpu_uuid: 'uuid',
  gpu_bus_id: 'pci.bus_id',
  'persistence-mode': 'persistence_mode',
};

/** Placeholder for a column the output did not have (older field lists). */
const missing = (): Unavailable => ({ unavailable: '[missing]' });

const LOST_GPU_RE = /Unable to determine the device handle for GPU\s*([0-9a-f]{1,8}:[0-9a-f]{1,2}:[0-9a-f]{1,2}(?:\.[0-9a-f])?)\s*:\s*GPU is lost/i;

/** Whole-command failures, checked in order against every output line. */
const NODE_ERRORS: { re: RegExp; kind: NonNullable<GpuTable['node_error']> }[] = [
  { re: /couldn't communicate with the NVIDIA driver/i, kind: 'driver_not_loaded' },
  { re: /couldn't find libnvidia-ml/i, kind: 'driver_not_loaded' },
  { re: /Driver\/library version mismatch/i, kind: 'nvml_mismatch' },
  { re: /No devices were found/i, kind: 'no_devices' },
  { re: /Failed to initialize NVML/i, kind: 'unknown' },
  { re: /is not a valid field to query/i, kind: 'unknown' },
];

/** nvidia-smi exit status 9: NVIDIA driver not loaded. */
const EXIT_DRIVER_NOT_LOADED = 9;

const REQUIRES_RESET_RE = /GPU requires reset/i;

function splitCells(line: string): string[] {
  return line.split(',').map((c) => c.trim());
}

function isPlaceholder(cell: string): boolean {
  return (cell.startsWith('[') && cell.endsWith(']')) || /^n\/a$/i.test(cell);
}

function numberCell(raw: string | undefined): Cell<number> {
  if (raw === undefined) return missing();
  if (isPlaceholder(raw)) return { unavailable: raw };
  // Without `nounits` values carry a unit suffix ("81559 MiB", "34 C").
  const m = /^(-?\d+(?:\.\d+)?)(?:\s*[A-Za-z%]+)?$/.exec(raw);
  return m ? Number(m[1]) : { unavailable: raw };
}

function boolCell(raw: string | undefined, allowEnabled: boolean): Cell<boolean> {
  if (raw === undefined) return missing();
  const v = raw.toLowerCase();
  if (v === 'yes' || v === '1' || v === 'true') return true;
  if (v === 'no' || v === '0' || v === 'false') return false;
  if (allowEnabled && v === 'enabled') return true;
  if (allowEnabled && v === 'disabled') return false;
  return { unavailable: raw };
}

/** Maps a header line ("index, uuid, memory.used [MiB], ...") to field positions. */
function headerColumns(cells: string[]): Map<QueryField, number> | null {
  const names = cells.map((c) =>
    c
      .replace(/\s*\[[^\]]*\]\s*$/, '')
      .trim()
      .toLowerCase(),
  );
  if (names[0] !== 'index' && !names.includes('uuid') && !names.includes('pci.bus_id')) return null;
  const known = new Set<string>(GPU_QUERY_FIELDS);
  const cols = new Map<QueryField, number>();
  names.forEach((name, i) => {
    const field = known.has(name) ? (name as QueryField) : FIELD_ALIASES[name];
    if (field && !cols.has(field)) cols.set(field, i);
  });
  return cols.size > 0 ? cols : null;
}

const DEFAULT_COLUMNS: Map<QueryField, number> = new Map(GPU_QUERY_FIELDS.map((f, i) => [f, i]));

function parseRow(line: string, cols: Map<QueryField, number>): GpuRow | null {
  const cells = splitCells(line);
  const get = (f: QueryField): string | undefined => {
    const i = cols.get(f);
    return i === undefined ? undefined : cells[i];
  };
  const indexRaw = get('index');
  const pciRaw = get('pci.bus_id');
  const uuid = get('uuid');
  if (indexRaw === undefined || !/^\d+$/.test(indexRaw)) return null;
  if (pciRaw === undefined || tryNormalizePciBusId(pciRaw) === null) return null;
  if (uuid === undefined) return null;
  return {
    index: Number(indexRaw),
    uuid,
    pci_bus_id: normalizePciBusId(pciRaw),
    name: get('name') ?? '',
    driver_version: get('driver_version') ?? '',
    temperature_c: numberCell(get('temperature.gpu')),
    memory_used_mib: numberCell(get('memory.used')),
    memory_total_mib: numberCell(get('memory.total')),
    ecc_uncorrected_volatile: numberCell(get('ecc.errors.uncorrected.volatile.total')),
    retired_pages_pending: boolCell(get('retired_pages.pending'), false),
    remapped_rows_pending: boolCell(get('remapped_rows.pending'), false),
    remapped_rows_failure: boolCell(get('remapped_rows.failure'), false),
    persistence_mode: boolCell(get('persistence_mode'), true),
    requires_reset: REQUIRES_RESET_RE.test(line),
  };
}

export function parseGpuTable(stdout: string, stderr: string, exitCode: number): GpuTable {
  const gpus: GpuRow[] = [];
  const lost = new Set<string>();
  const rawErrors: string[] = [];
  let nodeError: GpuTable['node_error'];
  let cols = DEFAULT_COLUMNS;
  let sawHeader = false;

  const noteError = (line: string): void => {
    rawErrors.push(line);
    const lostMatch = LOST_GPU_RE.exec(line);
    if (lostMatch) {
      lost.add(normalizePciBusId(lostMatch[1]!));
      return;
    }
    if (nodeError === undefined) {
      nodeError = NODE_ERRORS.find((e) => e.re.test(line))?.kind;
    }
  };

  for (const rawLine of stdout.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line === '') continue;
    if (!sawHeader && gpus.length === 0) {
      const header = headerColumns(splitCells(line));
      if (header) {
        cols = header;
        sawHeader = true;
        continue;
      }
    }
    const row = parseRow(line, cols);
    if (row) gpus.push(row);
    else noteError(line);
  }
  for (const rawLine of stderr.split(/\r?\n/)) {
    const line = rawLine.trim();
    if (line !== '') noteError(line);
  }

  // Nothing usable came back: classify the whole command as failed.
  if (gpus.length === 0 && lost.size === 0 && nodeError === undefined) {
    nodeError = exitCode === EXIT_DRIVER_NOT_LOADED ? 'driver_not_loaded' : 'unknown';
  }

  gpus.sort((a, b) => a.index - b.index);
  const table: GpuTable = { gpus, lost_gpus: [...lost].sort(), raw_errors: rawErrors };
  if (nodeError !== undefined) table.node_error = nodeError;
  return table;
}
