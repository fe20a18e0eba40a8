/**
 * `dcgmi diag -r <1-4> -j` answering in the DCGM 4.x JSON shape after the level's
 * real run time. Exit 0 when every test passes, 226 (DCGM_ST_NVVS_ERROR) when a GPU
 * fails; refusals come at once: 215 (DCGM_ST_DIAG_BAD_LAUNCH) when workloads still
 * hold the node, 217 (DCGM_ST_DIAG_ALREADY_RUNNING) while another diag runs, 250
 * (DCGM_ST_CONNECTION_NOT_VALID, plain text even with -j) when nv-hostengine is down.
 */
import { answer, DURATIONS, fail, type CommandContext, type CommandPlan, type CommandResult } from './command-types';
import { PCI_DEVICE_ID } from './gpus';
import { isLost, MEMORY_XIDS, remapPending, type SimGpu, type SimHostState } from './gpu-host-state';
import { styledJson } from './styled-json';

export const DCGM_VERSION = '4.2.3';
export const EXIT_DIAG_FAILED = 226;
export const EXIT_BAD_LAUNCH = 215;
export const EXIT_ALREADY_RUNNING = 217;
/** -6 DCGM_ST_CONNECTION_NOT_VALID: nv-hostengine is not running. */
export const EXIT_CONNECTION_NOT_VALID = 250;
const EXIT_BAD_PARAM = 254;

const GPU_GROUP = { entity_group: 'GPU', entity_group_id: 1 } as const;

interface Warning {
  warning: string;
  error_id: number;
  error_category: number;
  error_severity: number;
}

/** Tests per category, cumulative by level. */
const PLAN: { category: string; tests: { name: string; level: number }[] }[] = [
  { category: 'Deployment', tests: [{ name: 'software', level: 1 }] },
  { category: 'Integration', tests: [{ name: 'pcie', level: 2 }] },
  {
    category: 'Hardware',
    tests: [
      { name: 'memory', level: 2 },
      { name: 'diagnostic', level: 3 },
      { name: 'memtest', level: 4 },
    ],
  },
  {
    category: 'Stress',
    tests: [
      { name: 'memory_bandwidth', level: 3 },
      { name: 'targeted_stress', level: 3 },
      { name: 'targeted_power', level: 3 },
      { name: 'pulse_test', level: 4 },
    ],
  },
];

const LEVEL_NAMES: Record<string, number> = { '1': 1, quick: 1, short: 1, '2': 2, medium: 2, '3': 3, long: 3, '4': 4, xlong: 4 };

/** The first test that catches the GPU's problem, and what it reports. */
function finding(state: SimHostState, gpu: SimGpu, level: number): { test: string; warning: Warning } | null {
  const i = gpu.index;
  if (isLost(gpu)) {
    return { test: 'software', warning: { warning: `GPU ${i} has fallen off the bus`, error_id: 120, error_category: 13, error_severity: 2 } };
  }
  if (gpu.remap_failure) {
    return {
      test: 'software',
      warning: { warning: `GPU ${i} had uncorrectable memory errors and row remapping failed`, error_id: 80, error_category: 10, error_severity: 2 },
    };
  }
  if (remapPending(gpu)) {
    return {
      test: 'software',
      warning: { warning: `GPU ${i} had memory errors and row remappings are pending`, error_id: 85, error_category: 10, error_severity: 6 },
    };
  }
  const persistent = gpu.faults.find((f) => f.persistent && !MEMORY_XIDS.has(f.xid));
  if (persistent) {
    return {
      test: 'software',
      warning: { warning: `Detected XID ${persistent.xid} for GPU ${i}`, error_id: 101, error_category: 5, error_severity: 4 },
    };
  }
  if (gpu.diag_fail || (gpu.index === 0 && state.driverFailsDiag === state.driverLoaded)) {
    return {
      test: level >= 2 ? 'memory' : 'software',
      warning: { warning: `GPU ${i} memory test found 4096 mismatched bytes`, error_id: 58, error_category: 10, error_severity: 2 },
    };
  }
  return null;
}

/** The GPUs DCGM can see; one it cannot is left out of the report as if absent. */
const visibleGpus = (state: SimHostState) => state.gpus.filter((g) => !state.diagOmitted.has(g.index));

function runDiag(state: SimHostState, level: number): { json: object; failed: boolean } {
  const gpus = visibleGpus(state);
  const findings = new Map(gpus.map((g) => [g.index, finding(state, g, level)]));
  const failedBefore = new Set<number>();
  let anyFail = false;
  const categories = [];
  for (const cat of PLAN) {
    const tests = [];
    for (const t of cat.tests.filter((x) => x.level <= level)) {
      const results = gpus.map((g) => {
        const f = findings.get(g.index);
        if (failedBefore.has(g.index)) return { ...GPU_GROUP, entity_id: g.index, status: 'Skip' };
        if (f && f.test === t.name) return { ...GPU_GROUP, entity_id: g.index, status: 'Fail', warnings: [f.warning] };
        return { ...GPU_GROUP, entity_id: g.index, status: 'Pass' };
      });
      const warnings = results.flatMap((r) => ('warnings' in r ? r.warnings : []));
      for (const r of results) if (r.status === 'Fail') failedBefore.add(r.entity_id);
      anyFail ||= warnings.length > 0;
      tests.push({
        name: t.name,
        results,
        test_summary: warnings.length > 0 ? { status: 'Fail', warnings } : { status: 'Pass' },
      });
    }
    if (tests.length > 0) categories.push({ category: cat.category, tests });
  }
  return {
    failed: anyFail,
    json: {
      'DCGM Diagnostic': { test_categories: categories },
      entity_groups: [{ ...GPU_GROUP, entities: gpus.map((g) => ({ entity_id: g.index, serial_num: g.serial, device_id: PCI_DEVICE_ID })) }],
      metadata: { version: DCGM_VERSION, 'Driver Version Detected': state.driverLoaded },
    },
  };
}

/** A diag that never started: the runtime_error object with -j, a plain error line without. */
function runtimeError(json: boolean, exitCode: number, msg: string): CommandPlan {
  return answer(DURATIONS.dcgmiRefusal, {
    stdout: json ? styledJson({ 'DCGM Diagnostic': { runtime_error: msg, version: DCGM_VERSION } }) : `Error: ${msg}\n`,
    stderr: '',
    exitCode,
  });
}

function finishDiag(state: SimHostState, level: number, json: boolean): CommandResult {
  const { json: body, failed } = runDiag(state, level);
  const exitCode = failed ? EXIT_DIAG_FAILED : 0;
  if (json) return { stdout: styledJson(body), stderr: '', exitCode };
  const lines = visibleGpus(state).map((g) => `GPU${g.index}: ${finding(state, g, level) ? 'Fail' : 'Pass'}`);
  return { stdout: `Successfully ran diagnostic for group.\n${lines.join('\n')}\n`, stderr: '', exitCode };
}

export function dcgmi(state: SimHostState, args: readonly string[], ctx: CommandContext): CommandPlan {
  const badParam = (msg: string) => answer(DURATIONS.small, fail(EXIT_BAD_PARAM, msg));
  if (args[0] !== 'diag') return badParam(`Invalid subsystem "${args[0] ?? ''}". Run 'dcgmi --help' for usage.\n`);
  let levelArg: string | undefined;
  let json = false;
  for (let i = 1; i < args.length; i++) {
    const a = args[i];
    if (a === '-j' || a === '--json') json = true;
    else if (a === '-r' || a === '--run') levelArg = args[++i];
    else return badParam(`Error: unsupported argument "${a}" (lab).\n`);
  }
  const level = levelArg === undefined ? undefined : LEVEL_NAMES[levelArg];
  if (level === undefined) {
    return badParam(`Error: invalid run level "${levelArg ?? ''}"; expected 1, 2, 3, 4, short, medium, long or xlong.\n`);
  }
  // Without nv-hostengine dcgmi cannot connect: DCGM_ST_CONNECTION_NOT_VALID (-6), exit 250, before any JSON.
  if (state.hostEngineDown) {
    return answer(
      DURATIONS.dcgmiRefusal,
      // dcgmi writes its connection errors to stdout.
      fail(
        EXIT_CONNECTION_NOT_VALID,
        '',
        'Error: unable to establish a connection to the specified host: localhost\nError: Unable to connect to host engine. Host engine connection invalid/disconnected.\n',
      ),
    );
  }
  // nv-hostengine runs one diag at a time per host.
  if (ctx.diagRunning) {
    return runtimeError(
      json,
      EXIT_ALREADY_RUNNING,
      'Unable to complete diagnostic for group 0. Return: (-39) A diag instance is already running, cannot run a new diag until the current one finishes',
    );
  }
  if (ctx.allocationsRunning) {
    return runtimeError(
      json,
      EXIT_BAD_LAUNCH,
      "Unable to complete diagnostic for group 0. Return: (-41) Couldn't launch the diagnostic: the GPUs are in use by running workloads; drain the node first.",
    );
  }
  return {
    durationMs: DURATIONS.diagByLevel[level] ?? DURATIONS.diagByLevel[4]!,
    holds: { diag: true },
    // The report reflects the GPUs as they are when the run ends.
    finish: () => finishDiag(state, level, json),
  };
}
