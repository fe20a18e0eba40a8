/**
 * The commands the orchestrator runbooks run on GPU hosts, as argv arrays (the
 * SSH layer quotes each argument). Pool workers are found by PID and checked by
 * start time and argv before any signal.
 */

/** PID, start time (absolute, so a reused PID shows a different one), user, RSS in KiB, full argv; no header. */
export const processesCommand = (pids: readonly number[]): string[] => ['ps', '-p', pids.join(','), '-o', 'pid=,lstart=,user=,rss=,args='];

export const signalCommand = (signal: 'TERM' | 'KILL', pids: readonly number[]): string[] => ['kill', '-s', signal, '--', ...pids.map(String)];

/** Every process holding GPU memory, with its GPU, as NVML lists them. */
export const gpuProcessesCommand = (): string[] => ['nvidia-smi', '--query-compute-apps=gpu_uuid,pid,used_gpu_memory', '--format=csv,noheader,nounits'];

/** The rolling upgrade on a replica host: the installed version, and the fleet's package step (installs a release, restarts the unit). */
export const ORCHESTRATOR_UNIT = 'gpu-orchestrator.service';
export const ORCHESTRATOR_INSTALLER = '/usr/local/sbin/gpu-orchestrator-install';
export const orchestratorVersionCommand = (): string[] => ['gpu-orchestrator', '--version'];
export const orchestratorUnitActiveCommand = (): string[] => ['systemctl', 'is-active', ORCHESTRATOR_UNIT];
export const installOrchestratorCommand = (version: string): string[] => [ORCHESTRATOR_INSTALLER, version];

/** "gpu-orchestrator 2.3.1" → "2.3.1"; null for anything else. */
export function parseOrchestratorVersion(stdout: string): string | null {
  return /^gpu-orchestrator (\d+\.\d+\.\d+)\s*$/m.exec(stdout)?.[1] ?? null;
}
