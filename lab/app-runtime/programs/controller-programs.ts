/**
 * The platform team's controller installer on the app_control host and the
 * controller binary's --version. `install-controller BUILD` pulls the build,
 * writes the binary and CONTROLLER_BUILD, installs and enables the unit, and
 * restarts it; the new process reads the build at start.
 */
import { fail, type CommandPlan, type CommandResult } from '../../command-types';
import type { AppHost } from '../app-host';
import { buildCommit, CONTROLLER_BUILDS, NODE_AGENT_VERSION, PATHS, UNITS } from '../fleet';
import { parseEnvFile } from '../host-files';
import { binaryBuild, controllerBinary, controllerEnvFile } from '../seed';

/** Real durations, in ms: pulling a ~40 MB image and restarting the service. */
const INSTALL_MS = 20_000;
const UNKNOWN_BUILD_MS = 3_000;
const REGISTRY = 'registry.gitlab.gpuaas.dev/platform-apps/slurm-reference-controller';

export function installController(host: AppHost, args: readonly string[]): CommandPlan {
  if (args.length === 1 && (args[0] === '--help' || args[0] === '-h')) {
    return {
      durationMs: 10,
      finish: () => ({ stdout: `usage: install-controller BUILD\n  BUILD: one of ${CONTROLLER_BUILDS.join(', ')}\n`, stderr: '', exitCode: 0 }),
    };
  }
  if (args.length !== 1 || !/^\d+\.\d+\.\d+$/.test(args[0] ?? '')) {
    return { durationMs: 10, finish: () => fail(2, 'usage: install-controller BUILD (e.g. install-controller 1.5.0)\n') };
  }
  const build = args[0]!;
  if (!(CONTROLLER_BUILDS as readonly string[]).includes(build)) {
    return {
      durationMs: UNKNOWN_BUILD_MS,
      finish: () => fail(1, `install-controller: fetching slurm-reference-controller ${build}\ninstall-controller: ${REGISTRY}:${build}: manifest unknown\n`),
    };
  }
  return {
    durationMs: INSTALL_MS,
    finish: (): CommandResult => {
      const { files } = host;
      const previous = parseEnvFile(files.read(PATHS.controllerEnv) ?? '').get('CONTROLLER_BUILD') ?? null;
      files.write(PATHS.controllerBinary, controllerBinary(build), { mode: 0o755 });
      files.write(PATHS.controllerEnv, controllerEnvFile(build), { mode: 0o640 });
      const unit = host.unit(UNITS.controller)!;
      const fresh = !unit.installed;
      unit.installed = true;
      unit.enabled = true;
      const r = unit.restart();
      const out = [
        `install-controller: fetching slurm-reference-controller ${build} (${REGISTRY}:${build})`,
        `install-controller: installed ${PATHS.controllerBinary} (${build}, commit ${buildCommit(build)})`,
        `install-controller: wrote ${PATHS.controllerEnv} (CONTROLLER_BUILD=${build})`,
        ...(fresh ? [`install-controller: installed ${unit.def.fragment} and enabled it`] : []),
        `install-controller: restarting ${UNITS.controller}`,
      ];
      const mutation = { kind: 'controller_install' as const, applied: true, detail: { build, previous_build: previous, unit_installed: fresh } };
      if (!r.ok) return { stdout: `${out.join('\n')}\n`, stderr: r.stderr, exitCode: 1, mutation };
      out.push(`install-controller: ${UNITS.controller} is active`);
      return { stdout: `${out.join('\n')}\n`, stderr: '', exitCode: 0, mutation };
    },
  };
}

export function controllerVersion(host: AppHost, args: readonly string[]): CommandResult {
  const build = binaryBuild(host.files.read(PATHS.controllerBinary));
  if (!build) return fail(127, 'bash: slurm-reference-controller: command not found\n');
  if (args[0] === '--version' || args[0] === 'version') {
    return { stdout: `slurm-reference-controller ${build} (commit ${buildCommit(build)}, go1.22.5, linux/amd64)\n`, stderr: '', exitCode: 0 };
  }
  return fail(1, 'lab: running slurm-reference-controller by hand is not simulated; it runs as slurm-reference-controller.service\n');
}

export function nodeAgentVersion(args: readonly string[]): CommandResult {
  if (args[0] === '--version' || args[0] === 'version')
    return { stdout: `gpuaas-node-agent ${NODE_AGENT_VERSION} (go1.22.5, linux/amd64)\n`, stderr: '', exitCode: 0 };
  return fail(1, 'lab: running gpuaas-node-agent by hand is not simulated; it runs as gpuaas-node-agent.service\n');
}
