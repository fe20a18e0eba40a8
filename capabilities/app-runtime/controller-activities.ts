import { ApplicationFailure } from '@temporalio/common';
import { ErrorType } from '../../domain/errors';
import type { StepContext } from '../../domain/step-context';
import type { AuthorizedHost, HostAccess } from '../host/host-access';
import { parseScontrolShowNode, type SlurmNode } from './parse-slurm';
import {
  CONTROLLER_ENV,
  CONTROLLER_UNIT,
  installControllerCommand,
  readFileCommand,
  scontrolShowNodeCommand,
  unitActiveCommand,
  unitStartCommand,
} from './commands';

export interface ControllerState {
  installed: boolean;
  running: boolean;
  /** CONTROLLER_BUILD from the controller's env file; null when it is not installed. */
  build: string | null;
}

/**
 * The slurm-reference-controller and Slurm's view, on the app_control host only (the
 * host actions refuse any other role before connecting). `ctx.node_id` is that host.
 */
export function createControllerActivities(deps: { hosts: HostAccess }) {
  const { hosts } = deps;

  async function read(host: AuthorizedHost, tag: string): Promise<ControllerState> {
    const active = await host.run('read_app_controller', unitActiveCommand(CONTROLLER_UNIT), { evidenceSuffix: `${tag}_active` });
    const env = await host.run('read_app_controller', readFileCommand(CONTROLLER_ENV), { evidenceSuffix: `${tag}_env` });
    const build = env.exit_code === 0 ? (/^CONTROLLER_BUILD=(\S+)$/m.exec(env.stdout)?.[1] ?? null) : null;
    return { installed: env.exit_code === 0, running: active.stdout.trim() === 'active', build };
  }

  function failed(what: string, stderr: string): ApplicationFailure {
    return ApplicationFailure.create({ type: ErrorType.CommandFailed, message: `${what}: ${stderr.trim().split('\n').pop() ?? 'failed'}`, nonRetryable: true });
  }

  return {
    async readControllerState(ctx: StepContext): Promise<ControllerState> {
      return read(hosts.authorize(ctx, 'read_app_controller'), 'controller');
    },

    /**
     * Installs `build` through the platform team's installer (which restarts the service),
     * unless that build already runs: a retried attempt changes nothing twice.
     */
    async installControllerBuild(ctx: StepContext, build: string): Promise<ControllerState> {
      const host = hosts.authorize(ctx, 'manage_app_controller');
      const before = await read(host, 'before');
      if (before.running && before.build === build) return before;
      const res = await host.run('manage_app_controller', installControllerCommand(build), { evidenceSuffix: 'install' });
      if (res.exit_code !== 0) throw failed(`installing slurm-reference-controller ${build}`, res.stderr);
      return read(host, 'after');
    },

    /** Starts an installed controller that is not running; installs `build` when none is installed. */
    async bringUpController(ctx: StepContext, build: string): Promise<ControllerState> {
      const host = hosts.authorize(ctx, 'manage_app_controller');
      const before = await read(host, 'before');
      if (before.running) return before;
      const argv = before.installed ? unitStartCommand(CONTROLLER_UNIT) : installControllerCommand(build);
      const res = await host.run('manage_app_controller', argv, { evidenceSuffix: before.installed ? 'start' : 'install' });
      if (res.exit_code !== 0)
        throw failed(before.installed ? 'starting slurm-reference-controller' : `installing slurm-reference-controller ${build}`, res.stderr);
      return read(host, 'after');
    },

    /** How slurmctld sees a node (`scontrol show node`); null when it does not know it. */
    async readSlurmNode(ctx: StepContext, nodeName: string): Promise<SlurmNode | null> {
      const res = await hosts.run(ctx, 'read_app_controller', scontrolShowNodeCommand(nodeName), { evidenceSuffix: 'scontrol' });
      return res.exit_code === 0 ? (parseScontrolShowNode(res.stdout)[0] ?? null) : null;
    },
  };
}

export type ControllerActivities = ReturnType<typeof createControllerActivities>;
