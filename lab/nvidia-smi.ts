/**
 * The subset of nvidia-smi the engine uses: --query-gpu CSV, -pm and -r, with the
 * driver's messages and exit codes (2 bad argument, 6 not found, 15 GPU lost,
 * 255 other error) and the time each takes.
 */
import { answer, DURATIONS, fail, ok, type CommandContext, type CommandPlan, type CommandResult, type GpuProcess } from './command-types';
import { DRIVER_VERSION, GPU_NAME, MEMORY_TOTAL_MIB } from './gpus';
import { eccVolatile, isLost, remapPending, type SimGpu, type SimHostState } from './gpu-host-state';
import type { RecoveryAction } from './kernel-log';

const BAD_ARGS = "Invalid combination of input arguments. Please run 'nvidia-smi -h' for help.\n";
const yesNo = (b: boolean) => (b ? 'Yes' : 'No');

const lostMessage = (gpu: SimGpu) => `Unable to determine the device handle for GPU ${gpu.pci_bus_id}: GPU is lost.  Reboot the system to recover this GPU\n`;

interface FieldDef {
  unit?: string;
  value(gpu: SimGpu, ctx: CommandContext, state: SimHostState): string;
}

const busy = (gpu: SimGpu, ctx: CommandContext) => ctx.allocatedGpus.includes(gpu.index);
/** An allocation's job holds 71234 MiB; long-lived processes (pool workers, another tenant's) hold their own. */
const usedMiB = (gpu: SimGpu, ctx: CommandContext) =>
  Math.min(MEMORY_TOTAL_MIB, (busy(gpu, ctx) ? 71234 : 0) + ctx.gpuProcesses.filter((p) => p.gpuIndex === gpu.index).reduce((sum, p) => sum + p.usedMiB, 0));

/** How --query-gpu=gpu_recovery_action spells each action. */
const RECOVERY_FIELD: Record<RecoveryAction, string> = {
  none: 'None',
  gpu_reset: 'Reset',
  node_reboot: 'Reboot',
  drain_p2p: 'Drain P2P',
  drain_and_reset: 'Drain and Reset',
};

const FIELDS: Record<string, FieldDef> = {
  index: { value: (g) => String(g.index) },
  count: { value: (_g, _c, s) => String(s.gpus.length) },
  uuid: { value: (g) => g.uuid },
  gpu_uuid: { value: (g) => g.uuid },
  'pci.bus_id': { value: (g) => g.pci_bus_id },
  gpu_bus_id: { value: (g) => g.pci_bus_id },
  name: { value: () => GPU_NAME },
  gpu_name: { value: () => GPU_NAME },
  serial: { value: (g) => g.serial },
  driver_version: { value: () => DRIVER_VERSION },
  'temperature.gpu': { value: (g, c) => String(g.idle_temperature_c + (busy(g, c) ? 31 : 0)) },
  'utilization.gpu': { unit: '%', value: (g, c) => (busy(g, c) ? '97' : '0') },
  'memory.used': { unit: 'MiB', value: (g, c) => String(usedMiB(g, c)) },
  'memory.total': { unit: 'MiB', value: () => String(MEMORY_TOTAL_MIB) },
  'memory.free': { unit: 'MiB', value: (g, c) => String(MEMORY_TOTAL_MIB - usedMiB(g, c)) },
  'ecc.errors.uncorrected.volatile.total': { value: (g) => String(eccVolatile(g)) },
  'retired_pages.pending': { value: () => '[N/A]' },
  'remapped_rows.pending': { value: (g) => yesNo(remapPending(g)) },
  'remapped_rows.failure': { value: (g) => yesNo(g.remap_failure) },
  persistence_mode: { value: (g) => (g.persistence_mode ? 'Enabled' : 'Disabled') },
  gpu_recovery_action: { value: (g) => RECOVERY_FIELD[g.recovery_action] },
};

/** Minimal getopt: flags with values as "--x=v", "--x v" or "-x v". */
function parseArgs(args: readonly string[]): Map<string, string> | null {
  const out = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const eq = a.indexOf('=');
    if (a.startsWith('--') && eq > 0) {
      out.set(a.slice(0, eq), a.slice(eq + 1));
      continue;
    }
    if (!a.startsWith('-')) return null;
    const next = args[i + 1];
    if (next === undefined || next.startsWith('-')) out.set(a, '');
    else {
      out.set(a, next);
      i++;
    }
  }
  return out;
}

/** -i accepts comma-separated indexes, UUIDs or PCI bus ids. */
function selectGpus(state: SimHostState, spec: string | undefined): SimGpu[] | null {
  if (spec === undefined) return state.gpus;
  const picked: SimGpu[] = [];
  for (const id of spec.split(',').map((s) => s.trim().toLowerCase())) {
    const gpu = state.gpus.find(
      (g) =>
        String(g.index) === id ||
        g.uuid.toLowerCase() === id ||
        g.pci_bus_id.toLowerCase() === id ||
        g.pci_bus_id.toLowerCase().slice(4) === id ||
        g.pci_bus_id.toLowerCase().slice(4, 16) === id,
    );
    if (!gpu) return null;
    if (!picked.includes(gpu)) picked.push(gpu);
  }
  return picked;
}

function query(state: SimHostState, ctx: CommandContext, fieldList: string, format: string, targets: SimGpu[]): CommandResult {
  const fields = fieldList.split(',').map((f) => f.trim());
  const unknown = fields.find((f) => !(f in FIELDS));
  if (unknown !== undefined) return fail(2, `Field "${unknown}" is not a valid field to query.\n\n`);
  const opts = format.split(',').map((f) => f.trim());
  if (!opts.includes('csv')) return fail(2, `"${format}" is not a valid format.\n`);
  const units = !opts.includes('nounits');
  let stdout = '';
  if (!opts.includes('noheader')) {
    stdout += fields.map((f) => (units && FIELDS[f]?.unit ? `${f} [${FIELDS[f]?.unit}]` : f)).join(', ') + '\n';
  }
  let stderr = '';
  for (const gpu of targets) {
    if (isLost(gpu)) {
      stderr += lostMessage(gpu);
      continue;
    }
    const cells = fields.map((f) => {
      const def = FIELDS[f];
      const v = def ? def.value(gpu, ctx, state) : '[N/A]';
      return units && def?.unit && !v.startsWith('[') ? `${v} ${def.unit}` : v;
    });
    stdout += cells.join(', ') + '\n';
  }
  return { stdout, stderr, exitCode: stderr ? 15 : 0 };
}

function persistence(targets: SimGpu[], value: string): CommandPlan {
  if (value !== '0' && value !== '1' && value !== 'ENABLED' && value !== 'DISABLED') return answer(DURATIONS.small, fail(2, BAD_ARGS));
  const enable = value === '1' || value === 'ENABLED';
  const lost = targets.find(isLost);
  if (lost) {
    return answer(DURATIONS.nvidiaSmiRefusal, {
      ...fail(15, lostMessage(lost)),
      mutation: { kind: 'persistence_mode', applied: false, detail: { enabled: enable } },
    });
  }
  return { durationMs: DURATIONS.persistenceMode, finish: () => setPersistence(targets, enable) };
}

function setPersistence(targets: SimGpu[], enable: boolean): CommandResult {
  let stdout = '';
  const changed: string[] = [];
  for (const gpu of targets) {
    if (gpu.persistence_mode === enable) {
      stdout += `Persistence mode is already ${enable ? 'Enabled' : 'Disabled'} for GPU ${gpu.pci_bus_id}.\n`;
      continue;
    }
    gpu.persistence_mode = enable;
    changed.push(gpu.uuid);
    stdout += `${enable ? 'Enabled' : 'Disabled'} persistence mode for GPU ${gpu.pci_bus_id}.\n`;
  }
  stdout += 'All done.\n';
  return ok(stdout, {
    mutation: { kind: 'persistence_mode', applied: true, detail: { enabled: enable, gpus: targets.map((g) => g.uuid), changed } },
  });
}

/**
 * Anything with the GPU open blocks a reset: nvidia-persistenced (persistence mode),
 * workloads, a running diag, another process of ours, a stray process.
 */
function heldOpen(state: SimHostState, ctx: CommandContext, gpu: SimGpu): boolean {
  return (
    gpu.persistence_mode ||
    ctx.allocationsRunning ||
    ctx.diagRunning ||
    ctx.gpusInUse.includes(gpu.index) ||
    state.strayProcesses.some((p) => p.gpu_index === gpu.index)
  );
}

function reset(state: SimHostState, ctx: CommandContext, targets: SimGpu[]): CommandPlan {
  const detail = { gpus: targets.map((g) => g.uuid) };
  const lost = targets.find(isLost);
  if (lost) return answer(DURATIONS.nvidiaSmiRefusal, { ...fail(15, lostMessage(lost)), mutation: { kind: 'reset_gpu', applied: false, detail } });
  const inUse = targets.filter((g) => heldOpen(state, ctx, g));
  if (inUse.length > 0) {
    const n = inUse.length;
    const stdout =
      'The following GPUs could not be reset:\n' +
      inUse.map((g) => `  GPU ${g.pci_bus_id}: In use by another client\n`).join('') +
      `\n${n} ${n === 1 ? 'device is' : 'devices are'} currently being used by one or more other processes ` +
      '(e.g., Fabric Manager, CUDA application, graphics application such as an X server, or a monitoring ' +
      'application such as another instance of nvidia-smi). Please first kill all processes using this device ' +
      'and all compute applications running in the system.\n';
    return answer(DURATIONS.nvidiaSmiRefusal, {
      stdout,
      stderr: '',
      exitCode: 255,
      mutation: { kind: 'reset_gpu', applied: false, detail: { ...detail, reason: 'in_use' } },
    });
  }
  return {
    durationMs: DURATIONS.gpuReset,
    // The reset itself has the GPUs open: a second reset of them is refused meanwhile.
    holds: { gpus: targets.map((g) => g.index) },
    finish: () => {
      for (const gpu of targets) state.applyGpuReset(gpu);
      return ok(targets.map((g) => `GPU ${g.pci_bus_id} was successfully reset.\n`).join(''), {
        mutation: { kind: 'reset_gpu', applied: true, detail },
      });
    },
  };
}

/** --query-compute-apps: one row per process holding memory on the selected GPUs (lost GPUs list none). */
const APP_FIELDS: Record<string, FieldDef & { app(p: GpuProcess): string }> = {
  pid: { app: (p) => String(p.pid), value: () => '' },
  process_name: { app: (p) => p.name, value: () => '' },
  name: { app: (p) => p.name, value: () => '' },
  gpu_uuid: { app: () => '', value: (g) => g.uuid },
  gpu_bus_id: { app: () => '', value: (g) => g.pci_bus_id },
  gpu_name: { app: () => '', value: () => GPU_NAME },
  used_gpu_memory: { unit: 'MiB', app: (p) => String(p.usedMiB), value: () => '' },
  used_memory: { unit: 'MiB', app: (p) => String(p.usedMiB), value: () => '' },
};

function computeApps(state: SimHostState, ctx: CommandContext, fieldList: string, format: string, targets: SimGpu[]): CommandResult {
  const fields = fieldList.split(',').map((f) => f.trim());
  const unknown = fields.find((f) => !(f in APP_FIELDS));
  if (unknown !== undefined) return fail(2, `Field "${unknown}" is not a valid field to query.\n\n`);
  const opts = format.split(',').map((f) => f.trim());
  if (!opts.includes('csv')) return fail(2, `"${format}" is not a valid format.\n`);
  const units = !opts.includes('nounits');
  let stdout = opts.includes('noheader') ? '' : `${fields.map((f) => (units && APP_FIELDS[f]!.unit ? `${f} [${APP_FIELDS[f]!.unit}]` : f)).join(', ')}\n`;
  for (const gpu of targets.filter((g) => !isLost(g))) {
    for (const p of ctx.gpuProcesses.filter((x) => x.gpuIndex === gpu.index)) {
      const cells = fields.map((f) => {
        const def = APP_FIELDS[f]!;
        const v = def.app(p) || def.value(gpu, ctx, state);
        return units && def.unit ? `${v} ${def.unit}` : v;
      });
      stdout += `${cells.join(', ')}\n`;
    }
  }
  return ok(stdout);
}

export function nvidiaSmi(state: SimHostState, args: readonly string[], ctx: CommandContext): CommandPlan {
  const opts = parseArgs(args);
  // Argument errors are found before NVML is initialised: quick.
  if (!opts) return answer(DURATIONS.small, fail(2, BAD_ARGS));
  const id = opts.get('-i') ?? opts.get('--id');
  const targets = selectGpus(state, id);
  if (!targets) return answer(DURATIONS.nvidiaSmiRefusal, fail(6, 'No devices were found\n'));
  const apps = opts.get('--query-compute-apps');
  if (apps !== undefined) return { durationMs: DURATIONS.gpuQuery, finish: () => computeApps(state, ctx, apps, opts.get('--format') ?? '', targets) };
  const q = opts.get('--query-gpu');
  if (q !== undefined) {
    if (id !== undefined) {
      const lost = targets.find(isLost);
      if (lost) return answer(DURATIONS.nvidiaSmiRefusal, fail(15, lostMessage(lost)));
    }
    return { durationMs: DURATIONS.gpuQuery, finish: () => query(state, ctx, q, opts.get('--format') ?? '', targets) };
  }
  const pm = opts.get('-pm') ?? opts.get('--persistence-mode');
  if (pm !== undefined) return persistence(targets, pm);
  if (opts.has('-r') || opts.has('--gpu-reset')) {
    if ((opts.get('-r') ?? '') !== '' || opts.size > (id === undefined ? 1 : 2)) return answer(DURATIONS.small, fail(2, BAD_ARGS));
    return reset(state, ctx, targets);
  }
  return answer(DURATIONS.small, fail(2, BAD_ARGS));
}
