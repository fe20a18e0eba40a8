/**
 * Every command the engine runs on a GPU host, as argv arrays. The SSH layer
 * shell-quotes each argument; nothing here is ever concatenated into a string.
 * The lab's simulated hosts answer exactly these commands.
 */

/** Fields of the GPU table, in the order the parser expects them. */
export const GPU_QUERY_FIELDS = [
  'index',
  'uuid',
  'pci.bus_id',
  'name',
  'driver_version',
  'temperature.gpu',
  'memory.used',
  'memory.total',
  'ecc.errors.uncorrected.volatile.total',
  'retired_pages.pending',
  'remapped_rows.pending',
  'remapped_rows.failure',
  'persistence_mode',
] as const;

export const gpuTableCommand = (): string[] => ['nvidia-smi', `--query-gpu=${GPU_QUERY_FIELDS.join(',')}`, '--format=csv,noheader,nounits'];

/** Newest NVRM lines read per run; a real Xid burst is a few dozen lines. */
export const KERNEL_LOG_MAX_LINES = 5000;

/**
 * NVRM kernel messages of the current boot, the newest KERNEL_LOG_MAX_LINES,
 * optionally only since a cursor (kernel-log-window.ts says why).
 */
export function kernelLogCommand(since?: string, grep = true): string[] {
  return [
    'journalctl',
    '-k',
    '-b',
    '0',
    '-q',
    '--no-pager',
    '-o',
    'short-iso-precise',
    ...(grep ? ['--grep=NVRM'] : []),
    `--lines=${KERNEL_LOG_MAX_LINES}`,
    ...(since ? [`--since=${since}`] : []),
  ];
}

/** Reset one GPU, addressed by UUID because index order can change across reboots. */
export const resetGpuCommand = (gpuUuid: string): string[] => ['nvidia-smi', '-r', '-i', gpuUuid];

/** Persistence mode holds the GPU open, so a reset needs it off first. */
export const persistenceModeCommand = (gpuUuid: string, enabled: boolean): string[] => ['nvidia-smi', '-pm', enabled ? '1' : '0', '-i', gpuUuid];

export const diagCommand = (level: number): string[] => ['dcgmi', 'diag', '-r', String(level), '-j'];

export const rebootCommand = (): string[] => ['systemctl', 'reboot'];

/** Changes on every boot; how the engine knows a reboot really happened. */
export const bootIdCommand = (): string[] => ['cat', '/proc/sys/kernel/random/boot_id'];

/** dcgmi exit codes (negated dcgmReturn_t modulo 256) that mean "the diag ran and found a failure". */
export const DCGM_EXIT_DIAG_FAILED = 226;
export const DCGM_EXIT_ISOLATE = 205;
/** -39 DCGM_ST_DIAG_ALREADY_RUNNING: another diag holds the GPUs; try again later. */
export const DCGM_EXIT_ALREADY_RUNNING = 217;

/** The loaded driver's version; fails with NVML's "Driver/library version mismatch" between an install and the reboot. */
export const driverVersionCommand = (): string[] => ['nvidia-smi', '--query-gpu=driver_version', '--format=csv,noheader'];

/** The installed driver package as an apt pin, `nvidia-driver-550-server=550.90.07-0ubuntu1`. */
export const installedDriverCommand = (): string[] => ['dpkg-query', '-W', '-f=${Package}=${Version}\\n', 'nvidia-driver-*'];

/** Installs exactly `pin` (PKG=VERSION), up or down: the one-step rollback is the same command with the old pin. */
export const installDriverCommand = (pin: string): string[] => ['apt-get', 'install', '-y', '--allow-downgrades', '--no-install-recommends', pin];
