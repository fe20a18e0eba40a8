/**
 * The commands the rolling upgrade runs on a replica host, as argv arrays (the
 * SSH layer quotes each argument): the installed version, and the fleet's
 * package step, which installs a release and restarts the unit.
 */
export const ORCHESTRATOR_UNIT = 'gpu-orchestrator.service';
export const ORCHESTRATOR_INSTALLER = '/usr/local/sbin/gpu-orchestrator-install';

/** Releases are plain semver: the installer takes nothing else. */
export const ORCHESTRATOR_VERSION_PATTERN = /^\d+\.\d+\.\d+$/;

export const orchestratorVersionCommand = (): string[] => ['gpu-orchestrator', '--version'];
export const orchestratorUnitActiveCommand = (): string[] => ['systemctl', 'is-active', ORCHESTRATOR_UNIT];
export const installOrchestratorCommand = (version: string): string[] => [ORCHESTRATOR_INSTALLER, version];

/** "gpu-orchestrator 2.3.1" → "2.3.1"; null for anything else. */
export function parseOrchestratorVersion(stdout: string): string | null {
  return /^gpu-orchestrator (\d+\.\d+\.\d+)\s*$/m.exec(stdout)?.[1] ?? null;
}
