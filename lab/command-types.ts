/** What a simulated command returns to the SSH layer. */
export type SshMutationKind = 'reset_gpu' | 'reboot' | 'persistence_mode';

export interface CommandResult {
  stdout: string;
  stderr: string;
  exitCode: number;
  /** Set for commands that change host state (recorded as a mutation). */
  mutation?: { kind: SshMutationKind; applied: boolean; detail?: Record<string, unknown> };
  /** The host goes down for a reboot right after answering. */
  reboot?: boolean;
}

/** What the host needs to know about the platform when answering a command. */
export interface CommandContext {
  now: Date;
  /** GPU indexes held by allocations running on this node (empty when drained). */
  allocatedGpus: readonly number[];
  /** True while any allocation runs on the node, whatever its GPUs. */
  allocationsRunning: boolean;
}

export const ok = (stdout: string, extra: Partial<CommandResult> = {}): CommandResult => ({ stdout, stderr: '', exitCode: 0, ...extra });
export const fail = (exitCode: number, stderr: string, stdout = ''): CommandResult => ({ stdout, stderr, exitCode });
export const notFound = (cmd: string): CommandResult => fail(127, `bash: ${cmd}: command not found\n`);
