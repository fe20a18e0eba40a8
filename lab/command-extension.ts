/**
 * Programs a part of the lab adds to its hosts (the platform-app runtime's
 * services, files and tools): HostRuntime asks the extension first and falls
 * back to the built-in programs when it declines.
 */
import type { CommandPlan } from './command-types';
import type { UnitView } from './systemd';

export interface ExtensionIo {
  /** What the SSH client sent on stdin up to EOF, for programs that read /dev/stdin; null when nothing is connected (a unit's /dev/null). */
  stdin: string | null;
  /** A transient unit of the host's runtime (systemd-run), for `systemctl status` of one. */
  transientUnit(id: string): UnitView | undefined;
}

export interface HostCommandExtension {
  /** The plan for argv, or undefined when the extension does not provide this program (or this use of it). */
  plan(argv: readonly string[], io: ExtensionIo): CommandPlan | undefined;
  /** Whether `program` (argv[0] as given: a name or a path) is installed, for systemd-run's executable lookup. */
  has(program: string): boolean;
}

/** Several parts' programs on one host: the first that provides a program answers for it. */
export function chainExtensions(...parts: HostCommandExtension[]): HostCommandExtension {
  return {
    plan: (argv, io) => {
      for (const p of parts) {
        const plan = p.plan(argv, io);
        if (plan) return plan;
      }
      return undefined;
    },
    has: (program) => parts.some((p) => p.has(program)),
  };
}
