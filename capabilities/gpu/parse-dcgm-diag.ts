/**
 * Parser for `dcgmi diag -r <level> -j`. Understands the DCGM 4.x document
 * ("DCGM Diagnostic" with per-entity results), the DCGM 3.x document
 * ("DCGM GPU Diagnostic" with string gpu_id), and the `--iterations` wrapper.
 * Pure: never throws; anything it cannot read becomes overall 'error'.
 */
import type { DiagStatus, DiagSummary, DiagTestResult } from '../../domain/gpu-observations';
import { DCGM_EXIT_DIAG_FAILED, DCGM_EXIT_ISOLATE } from './commands';

type Obj = Record<string, unknown>;
type Warning = DiagTestResult['warnings'][number];

const KEY_V4 = 'DCGM Diagnostic';
const KEY_V3 = 'DCGM GPU Diagnostic';

/** dcgmi exit statuses that mean the diagnostic did not (fully) run. */
const EXIT_MEANINGS: Record<number, string> = {
  217: 'another diagnostic is already running',
  215: 'the diagnostic could not be launched',
  204: 'the nvvs binary was not found',
  203: 'the diagnostic was killed',
  198: 'the requested test is not available',
  250: 'no connection to nv-hostengine',
};

/** Lowest run level that includes a test, keyed by normalised test name (4.x and 3.x spellings). */
const TEST_LEVEL: Record<string, number> = {
  software: 1,
  denylist: 1,
  blacklist: 1,
  nvml_library: 1,
  cuda_main_library: 1,
  permissions_and_os_blocks: 1,
  persistence_mode: 1,
  environment_variables: 1,
  'page_retirement/row_remap': 1,
  graphics_processes: 1,
  inforom: 1,
  pcie: 2,
  memory: 2,
  gpu_memory: 2,
  diagnostic: 3,
  targeted_stress: 3,
  targeted_power: 3,
  memory_bandwidth: 3,
  sm_stress: 3,
  nvbandwidth: 3,
  nccl_tests: 3,
  eud: 3,
  cpu_eud: 3,
  eud_test: 3,
  memtest: 4,
  pulse_test: 4,
};

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

function mapStatus(raw: unknown): DiagStatus {
  const s = String(raw ?? '')
    .trim()
    .toLowerCase();
  if (s === 'pass') return 'pass';
  if (s === 'skip' || s === 'not run' || s === 'not_run' || s === 'notrun') return 'skip';
  // Fail, Warn and anything unrecognised count against the GPU.
  return 'fail';
}

function entityId(result: Obj): number | null {
  const group = str(result['entity_group']);
  if (group !== undefined && group.toUpperCase() !== 'GPU') return null;
  const raw = result['entity_id'] ?? result['gpu_id'];
  if (typeof raw === 'number' && Number.isInteger(raw) && raw >= 0) return raw;
  if (typeof raw === 'string' && /^\d+$/.test(raw.trim())) return Number(raw.trim());
  return null;
}

function parseWarnings(raw: unknown): Warning[] {
  const out: Warning[] = [];
  for (const w of arr(raw)) {
    if (typeof w === 'string') {
      out.push({ message: w });
      continue;
    }
    if (!isObj(w)) continue;
    // 3.x Deployment tests put the text under "warnings" inside each warning object.
    const text = w['warning'] ?? w['warnings'] ?? w['message'];
    const message = Array.isArray(text) ? text.map(String).join('; ') : String(text ?? '');
    const warning: Warning = { message };
    const id = num(w['error_id']);
    const severity = num(w['error_severity']);
    const category = num(w['error_category']);
    if (id !== undefined) warning.error_id = id;
    if (severity !== undefined) warning.error_severity = severity;
    if (category !== undefined) warning.error_category = category;
    out.push(warning);
  }
  return out;
}

function testLevel(name: string): number | undefined {
  return TEST_LEVEL[
    name
      .trim()
      .toLowerCase()
      .replace(/[\s-]+/g, '_')
  ];
}

interface RunParse {
  format: DiagSummary['format'];
  version?: string;
  runtimeError?: string;
  results: DiagTestResult[];
  level?: number;
  gpus?: number[];
}

const GPU_ENTITY_GROUP_ID = 1;

/**
 * GPU ids the run covered, from the document's header: DCGM 4 lists the
 * entities of each entity group; DCGM 3 keys "GPU Device Serials" by GPU id and
 * lists "GPU Device IDs" in GPU order (read as 0..n-1: the engine diagnoses all
 * GPUs of a node, never a subset).
 */
function gpusOfRun(run: Obj, format: DiagSummary['format']): number[] | undefined {
  const ids = new Set<number>();
  if (format === 'dcgm4') {
    if (!Array.isArray(run['entity_groups'])) return undefined;
    for (const group of arr(run['entity_groups'])) {
      if (!isObj(group)) continue;
      const name = str(group['entity_group']);
      const isGpu = name !== undefined ? name.toUpperCase() === 'GPU' : num(group['entity_group_id']) === GPU_ENTITY_GROUP_ID;
      if (!isGpu) continue;
      for (const entity of arr(group['entities'])) {
        const id = isObj(entity) ? entityId({ entity_id: entity['entity_id'] }) : null;
        if (id !== null) ids.add(id);
      }
    }
  } else {
    const serials = run['GPU Device Serials'];
    const deviceIds = run['GPU Device IDs'];
    if (isObj(serials)) {
      for (const key of Object.keys(serials)) if (/^\d+$/.test(key)) ids.add(Number(key));
    } else if (Array.isArray(deviceIds)) {
      deviceIds.forEach((_, i) => ids.add(i));
    } else {
      return undefined;
    }
  }
  return [...ids].sort((a, b) => a - b);
}

function parseRun(run: unknown): RunParse {
  if (!isObj(run)) return { format: 'unknown', results: [] };
  const format: DiagSummary['format'] = isObj(run[KEY_V4]) ? 'dcgm4' : isObj(run[KEY_V3]) ? 'dcgm3' : 'unknown';
  if (format === 'unknown') return { format, results: [], runtimeError: str(run['runtime_error']) };
  const body = run[format === 'dcgm4' ? KEY_V4 : KEY_V3] as Obj;
  const metadata = isObj(run['metadata']) ? run['metadata'] : {};
  const version = str(metadata['version']) ?? str(run['version']) ?? str(body['version']);
  const runtimeError = str(body['runtime_error']) ?? str(run['runtime_error']);

  const results: DiagTestResult[] = [];
  let level: number | undefined;
  for (const cat of arr(body['test_categories'])) {
    if (!isObj(cat)) continue;
    const category = str(cat['category']) ?? '';
    if (category.toLowerCase() === 'deployment') level = Math.max(level ?? 0, 1);
    for (const test of arr(cat['tests'])) {
      if (!isObj(test)) continue;
      const name = str(test['name']) ?? '';
      const lv = testLevel(name);
      if (lv !== undefined) level = Math.max(level ?? 0, lv);
      const own: DiagTestResult[] = [];
      for (const r of arr(test['results'])) {
        if (!isObj(r)) continue;
        const result: DiagTestResult = {
          category,
          test: name,
          entity_id: entityId(r),
          status: mapStatus(r['status']),
          warnings: parseWarnings(r['warnings']),
        };
        // DCGM 3 Deployment checks give one result for the whole GPU group and
        // name a GPU only when it fails.
        if (format === 'dcgm3' && !('gpu_id' in r) && !('entity_id' in r) && !('entity_group' in r)) result.all_gpus = true;
        own.push(result);
      }
      // A failed summary with no failed entity still fails the run; a summary
      // stands in for the results when there are none.
      const summary = test['test_summary'];
      if (isObj(summary)) {
        const status = mapStatus(summary['status']);
        if (own.length === 0 || (status === 'fail' && !own.some((r) => r.status === 'fail'))) {
          own.push({ category, test: name, entity_id: null, status, warnings: parseWarnings(summary['warnings']) });
        }
      }
      results.push(...own);
    }
  }
  const parsed: RunParse = { format, results };
  if (version !== undefined) parsed.version = version;
  if (runtimeError !== undefined) parsed.runtimeError = runtimeError;
  if (level !== undefined) parsed.level = level;
  const gpus = gpusOfRun(run, format);
  if (gpus !== undefined) parsed.gpus = gpus;
  return parsed;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false; error: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (e) {
    // Tolerate banner text around the document.
    const start = text.indexOf('{');
    const end = text.lastIndexOf('}');
    if (start >= 0 && end > start) {
      try {
        return { ok: true, value: JSON.parse(text.slice(start, end + 1)) };
      } catch {
        /* fall through to the original error */
      }
    }
    return { ok: false, error: e instanceof Error ? e.message : String(e) };
  }
}

function exitNote(exitCode: number): string {
  const meaning = EXIT_MEANINGS[exitCode];
  return meaning ? `dcgmi exited ${exitCode} (${meaning})` : `dcgmi exited ${exitCode}`;
}

export function parseDcgmDiag(stdout: string, exitCode: number): DiagSummary {
  const text = stdout.trim();
  if (text === '') {
    return { overall: 'error', format: 'unknown', results: [], failed_gpus: [], runtime_error: `${exitNote(exitCode)} with no output` };
  }
  const parsed = parseJson(text);
  if (!parsed.ok && !text.includes('{')) {
    // Refusals before any diag (no host engine, bad arguments) are plain text: keep dcgmi's own words.
    const said = text.split('\n').slice(0, 3).join(' ').slice(0, 300);
    return { overall: 'error', format: 'unknown', results: [], failed_gpus: [], runtime_error: `${exitNote(exitCode)}: ${said}` };
  }
  if (!parsed.ok) {
    return {
      overall: 'error',
      format: 'unknown',
      results: [],
      failed_gpus: [],
      runtime_error: `${exitNote(exitCode)}; output is not valid JSON: ${parsed.error}`,
    };
  }

  const doc = parsed.value;
  let runs: unknown[] = [doc];
  let wrapperFailed = false;
  let wrapperWarning: string | undefined;
  if (isObj(doc) && Array.isArray(doc['iterations'])) {
    runs = doc['iterations'];
    wrapperFailed = mapStatus(doc['Overall Result'] ?? 'pass') === 'fail';
    wrapperWarning = str(doc['warning']);
  }

  const parsedRuns = runs.map(parseRun);
  const known = parsedRuns.filter((r) => r.format !== 'unknown');
  const results = parsedRuns.flatMap((r) => r.results);
  const failedGpus = [...new Set(results.filter((r) => r.status === 'fail' && r.entity_id !== null).map((r) => r.entity_id as number))].sort((a, b) => a - b);

  const summary: DiagSummary = {
    overall: 'error',
    format: known[0]?.format ?? 'unknown',
    results,
    failed_gpus: failedGpus,
  };
  const version = known.find((r) => r.version !== undefined)?.version;
  if (version !== undefined) summary.dcgm_version = version;
  const gpuLists = parsedRuns.map((r) => r.gpus).filter((g): g is number[] => g !== undefined);
  if (gpuLists.length > 0) summary.gpus_in_run = [...new Set(gpuLists.flat())].sort((a, b) => a - b);
  const levels = parsedRuns.map((r) => r.level).filter((l): l is number => l !== undefined);
  if (levels.length > 0) summary.level = Math.max(...levels);

  const runtimeErrors = parsedRuns.map((r) => r.runtimeError).filter((e): e is string => e !== undefined);
  if (wrapperWarning !== undefined) runtimeErrors.unshift(wrapperWarning);
  if (runtimeErrors.length > 0) {
    summary.runtime_error = runtimeErrors.join('; ');
    return summary;
  }
  if (known.length === 0) {
    summary.runtime_error = `unrecognised dcgmi JSON (no "${KEY_V4}" or "${KEY_V3}" key); ${exitNote(exitCode)}`;
    return summary;
  }

  const failed = results.some((r) => r.status === 'fail');
  const ran = results.some((r) => r.status !== 'skip');
  if (failed || wrapperFailed || exitCode === DCGM_EXIT_DIAG_FAILED || exitCode === DCGM_EXIT_ISOLATE) {
    summary.overall = 'fail';
  } else if (!ran) {
    summary.runtime_error = `no test produced a result (all skipped or empty); ${exitNote(exitCode)}`;
  } else if (exitCode === 0 || exitCode < 0) {
    // A negative code means the caller did not capture one; trust the document.
    summary.overall = 'pass';
  } else {
    summary.runtime_error = `${exitNote(exitCode)} although no test failed`;
  }
  return summary;
}
