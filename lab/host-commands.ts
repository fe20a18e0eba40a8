/**
 * The programs of a simulated host that need nothing but the host's state: each
 * becomes a CommandPlan (duration, what it holds, what it does at exit). Worker
 * hosts have the GPU tooling; every host has cat, hostname, journalctl and
 * `systemctl reboot`; anything else is "command not found" like bash would say.
 * systemd-run and the unit verbs of systemctl need the process table and live in
 * host-runtime.ts.
 */
import { answer, DURATIONS, fail, notFound, ok, type CommandContext, type CommandPlan, type CommandResult } from './command-types';
import { dcgmi } from './dcgmi';
import { aptGet, dpkgQuery } from './gpu-driver';
import type { SimHostState } from './gpu-host-state';
import { journalctl } from './journalctl';
import { nvidiaSmi } from './nvidia-smi';
import { parseCommandLine } from './shell';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

/** Programs every host has, and the ones only GPU workers have. */
const COMMON_PROGRAMS = new Set(['cat', 'hostname', 'journalctl', 'systemctl', 'systemd-run']);
const GPU_PROGRAMS = new Set(['nvidia-smi', 'dcgmi', 'apt-get', 'dpkg-query']);

/** Whether `program` is installed on the host (what systemd-run's executable lookup sees). */
export function programExists(state: SimHostState, program: string): boolean {
  return COMMON_PROGRAMS.has(program) || (state.isWorker && GPU_PROGRAMS.has(program));
}

function cat(state: SimHostState, files: readonly string[]): CommandResult {
  let stdout = '';
  let stderr = '';
  for (const f of files) {
    const file = state.files.get(f);
    if (f === BOOT_ID_PATH) stdout += `${state.bootId}\n`;
    else if (f === '/etc/hostname') stdout += `${state.hostname}\n`;
    else if (file !== undefined) stdout += file;
    else stderr += `cat: ${f}: No such file or directory\n`;
  }
  return { stdout, stderr, exitCode: stderr ? 1 : 0 };
}

/** Plans one program run from its argv; systemd-run and unit verbs are not handled here. */
export function planCommand(state: SimHostState, argv: readonly string[], ctx: CommandContext): CommandPlan {
  const [cmd = '', ...args] = argv;
  if (!programExists(state, cmd)) return answer(DURATIONS.shell, notFound(cmd));
  switch (cmd) {
    case 'cat':
      // Read when cat runs, so a file written meanwhile is seen as it is at the end.
      return { durationMs: DURATIONS.small, finish: () => cat(state, args) };
    case 'hostname':
      return answer(DURATIONS.small, args.length === 0 ? ok(`${state.hostname}\n`) : fail(1, 'lab: changing the host name is not simulated\n'));
    case 'journalctl':
      return journalctl(state, args, ctx.now);
    case 'systemctl':
      if (args.length === 1 && args[0] === 'reboot') {
        return answer(DURATIONS.small, ok('', { reboot: true, mutation: { kind: 'reboot', applied: true } }));
      }
      return answer(DURATIONS.small, fail(1, `Unknown command verb ${args[0] ?? ''}.\n`));
    case 'nvidia-smi':
      return nvidiaSmi(state, args, ctx);
    case 'dcgmi':
      return dcgmi(state, args, ctx);
    case 'apt-get':
      return aptGet(state, args);
    case 'dpkg-query':
      return dpkgQuery(state, args);
    default:
      return answer(DURATIONS.shell, notFound(cmd));
  }
}

/**
 * Runs a command line to completion at once, ignoring its duration and any other
 * process: for pure tests of the tools' output. The SSH hosts go through HostRuntime.
 */
export function execOnHost(state: SimHostState, command: string, ctx: CommandContext): CommandResult {
  const parsed = parseCommandLine(command);
  if (!parsed.ok) return fail(2, `${parsed.message}\n`);
  return planCommand(state, parsed.argv, ctx).finish();
}
