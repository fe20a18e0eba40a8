/** What a simulated command is: how long it runs, what it holds, what it does at exit. */
import type { AppSshMutationKind } from './app-runtime/mutation-kinds';
import type { OrchestratorSshMutationKind } from './orchestrator/mutation-kinds';

export type SshMutationKind = 'reset_gpu' | 'reboot' | 'persistence_mode' | 'driver_install' | AppSshMutationKind | OrchestratorSshMutationKind;

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Set for commands that change host state (recorded as a mutation). */
  mutation?: { kind: SshMutationKind; applied: boolean; detail?: Record<string, unknown> };
  /** The host goes down for a reboot right after this process exits. */
  reboot?: boolean;
}

/**
 * A command about to run as a process. Refusals that a real tool makes before doing
 * anything are decided when the plan is made; everything else happens in finish(),
 * which runs when the process exits and never for a killed one.
 */
export interface CommandPlan {
  /** How long the real tool takes, in ms at timeScale 1. */
  durationMs: number;
  /** What the process keeps busy while it runs. */
  holds?: { diag?: boolean; gpus?: readonly number[] };
  finish(): CommandResult;
}

/** What the host needs to know about the platform and its own processes when a command starts. */
export interface CommandContext {
  now: Date;
  /** GPU indexes held by allocations running on this node (empty when drained). */
  allocatedGpus: readonly number[];
  /** True while any allocation runs on the node, whatever its GPUs. */
  allocationsRunning: boolean;
  /** A dcgmi diag process is running on the host. */
  diagRunning: boolean;
  /** GPU indexes another running process (e.g. a reset in progress) has open. */
  gpusInUse: readonly number[];
  /** Long-lived processes holding GPU memory (the orchestrator's pool workers, another tenant's job), as NVML lists them. */
  gpuProcesses: readonly GpuProcess[];
}

export interface GpuProcess {
  pid: number;
  gpuIndex: number;
  usedMiB: number;
  /** The executable's path, as nvidia-smi's process_name shows it. */
  name: string;
}

/** Durations of the simulated tools at timeScale 1, in ms (what they take on a real H100 node). */
export const DURATIONS = {
  gpuQuery: 300,
  /** nvidia-smi answering a refusal: it initialises NVML, then gives up. */
  nvidiaSmiRefusal: 300,
  persistenceMode: 1_000,
  gpuReset: 4_000,
  /** dcgmi refusing before any test runs (another diag, a bad launch). */
  dcgmiRefusal: 50,
  diagByLevel: { 1: 60_000, 2: 120_000, 3: 900_000, 4: 3_600_000 } as Record<number, number>,
  journalctlBase: 200,
  journalctlPerMiB: 100,
  /** cat, hostname, systemctl, systemd-run. */
  small: 20,
  /** bash answering "command not found" or refusing a command line. */
  shell: 5,
  /** apt-get installing a driver package: download, unpack, dkms building the module. */
  driverInstall: 180_000,
  /** A powered-off host coming back: POST, GPU init, services. */
  reboot: 180_000,
  /** Between `systemctl reboot` returning and sshd going away (shutdown of services). */
  rebootGrace: 5_000,
} as const;

export const ok = (stdout: string, extra: Partial<CommandResult> = {}): CommandResult => ({ stdout, stderr: '', exitCode: 0, ...extra });
export const fail = (exitCode: number, stderr: string, stdout = ''): CommandResult => ({ stdout, stderr, exitCode });
export const notFound = (cmd: string): CommandResult => fail(127, `bash: ${cmd}: command not found\n`);

/** A plan whose outcome is known up front. */
export const answer = (durationMs: number, result: CommandResult): CommandPlan => ({ durationMs, finish: () => result });
