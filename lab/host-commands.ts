/**
 * Dispatches one exec'd command line on a simulated host. Worker hosts know the
 * GPU tooling; every host knows its boot id and hostname; anything else is
 * "command not found" like bash would say.
 */
import { fail, notFound, ok, type CommandContext, type CommandResult } from './command-types';
import { dcgmi } from './dcgmi';
import type { SimHostState } from './gpu-host-state';
import { formatJournal, type KernelLine } from './kernel-log';
import { nvidiaSmi } from './nvidia-smi';
import { parseCommandLine } from './shell';

const BOOT_ID_PATH = '/proc/sys/kernel/random/boot_id';

function cat(state: SimHostState, files: readonly string[]): CommandResult {
  let stdout = '';
  let stderr = '';
  for (const f of files) {
    if (f === BOOT_ID_PATH) stdout += `${state.bootId}\n`;
    else if (f === '/etc/hostname') stdout += `${state.hostname}\n`;
    else stderr += `cat: ${f}: No such file or directory\n`;
  }
  return { stdout, stderr, exitCode: stderr ? 1 : 0 };
}

/** journalctl -k [-b 0|-1] [--no-pager] [-o short-iso|short] */
function journalctl(state: SimHostState, args: readonly string[]): CommandResult {
  let kernel = false;
  let boot = '0';
  let output = 'short';
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '-k' || a === '--dmesg') kernel = true;
    else if (a === '--no-pager' || a === '-q' || a === '--quiet') continue;
    else if (a === '-b' || a === '--boot') boot = args[++i] ?? '0';
    else if (a === '-o' || a === '--output') output = args[++i] ?? '';
    else if (a?.startsWith('--output=')) output = a.slice('--output='.length);
    else return fail(1, `journalctl: unrecognized option '${a}' (lab)\n`);
  }
  if (!kernel) return fail(1, 'lab: only kernel messages (-k) are simulated\n');
  let lines: KernelLine[];
  if (boot === '0' || boot === state.bootId.replace(/-/g, '')) lines = state.kernelLog;
  else if (boot === '-1' && state.previousKernelLog) lines = state.previousKernelLog;
  else return fail(1, `Data from the specified boot (${boot}) is not available: No such boot ID in journal\n`);
  if (output === 'short-iso') return ok(formatJournal(state.hostname, lines));
  if (output === 'short') {
    const text = lines
      .map((l) => {
        const d = l.at.toUTCString().split(' '); // "Sun, 22 Nov 2026 10:15:30 GMT"
        return `${d[2]} ${d[1]} ${d[4]} ${state.hostname} kernel: ${l.message}\n`;
      })
      .join('');
    return ok(text);
  }
  return fail(1, `Unsupported output mode "${output}" (lab supports short and short-iso).\n`);
}

function systemctl(args: readonly string[]): CommandResult {
  if (args.length === 1 && args[0] === 'reboot') {
    return ok('', { reboot: true, mutation: { kind: 'reboot', applied: true } });
  }
  return fail(1, `Unknown command verb ${args[0] ?? ''}.\n`);
}

export function execOnHost(state: SimHostState, command: string, ctx: CommandContext): CommandResult {
  const parsed = parseCommandLine(command);
  if (!parsed.ok) return fail(2, `${parsed.message}\n`);
  const [cmd = '', ...args] = parsed.argv;
  if (cmd === 'cat') return cat(state, args);
  if (cmd === 'hostname' && args.length === 0) return ok(`${state.hostname}\n`);
  if (!state.isWorker) return notFound(cmd);
  switch (cmd) {
    case 'nvidia-smi':
      return nvidiaSmi(state, args, ctx);
    case 'dcgmi':
      return dcgmi(state, args, ctx);
    case 'journalctl':
      return journalctl(state, args);
    case 'systemctl':
      return systemctl(args);
    default:
      return notFound(cmd);
  }
}
