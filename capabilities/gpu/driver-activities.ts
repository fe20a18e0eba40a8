import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import { HOST_COMMAND_BUDGET_MS } from '../../domain/host-command-budgets';
import type { StepContext } from '../../domain/step-context';
import type { HostAccess } from '../host/host-access';
import type { HostJobs } from '../host/host-jobs';
import { driverVersionCommand, installDriverCommand, installedDriverCommand } from './commands';

/** The driver on a GPU host: what the kernel runs and what the packages hold. */
export interface DriverState {
  /** nvidia-smi's driver_version; null when nvidia-smi cannot say (mismatch, no driver). */
  loaded: string | null;
  /** The installed package as an apt pin (PKG=VERSION); null when none is installed. */
  installed_pin: string | null;
  /** Installed since the last boot: the loaded module and the library differ until a reboot. */
  mismatch: boolean;
}

/** Reads and installs the NVIDIA driver package on a worker (apt, dkms); the install runs as a host job. */
export function createDriverActivities(deps: { hosts: HostAccess; jobs: HostJobs }) {
  const { hosts, jobs } = deps;
  return {
    async readDriverState(ctx: StepContext): Promise<DriverState> {
      const smi = await hosts.run(ctx, 'read_gpu_state', driverVersionCommand(), { evidenceSuffix: 'driver_version' });
      const pkg = await hosts.run(ctx, 'read_gpu_state', installedDriverCommand(), { evidenceSuffix: 'driver_package' });
      const versions = [
        ...new Set(
          smi.stdout
            .split('\n')
            .map((l) => l.trim())
            .filter(Boolean),
        ),
      ];
      return {
        loaded: smi.exit_code === 0 && versions.length === 1 ? versions[0]! : null,
        installed_pin: pkg.exit_code === 0 ? (pkg.stdout.split('\n').find((l) => l.includes('=')) ?? null) : null,
        mismatch: /Driver\/library version mismatch/i.test(smi.stderr + smi.stdout),
      };
    },

    /** `apt-get install` of exactly `pin`; apt itself makes a repeat a no-op. A failed install is not retried. */
    async installDriverPackage(ctx: StepContext, pin: string, pollMs: number): Promise<string> {
      const res = await jobs.run(ctx, {
        name: 'install_driver',
        action: 'install_gpu_driver',
        argv: installDriverCommand(pin),
        timeoutMs: HOST_COMMAND_BUDGET_MS.driver_install,
        pollMs,
      });
      const tail = (s: string) => s.trim().split('\n').slice(-3).join(' | ');
      if (res.exit_code !== 0) {
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `apt-get install ${pin} failed (exit ${res.exit_code}): ${tail(res.stdout)} | ${tail(res.stderr)}`,
          nonRetryable: true,
        });
      }
      return tail(res.stdout);
    },
  };
}

export type DriverActivities = ReturnType<typeof createDriverActivities>;
