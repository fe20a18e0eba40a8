/**
 * What the orchestrator adds to a host's shell: `ps` over the host's long-lived
 * processes (services' main processes, pool workers), `kill` (bash's builtin:
 * signals to those PIDs, with bash's messages), and `gpu-orchestrator
 * --version` and the package step `gpu-orchestrator-install VERSION` (installer.ts)
 * where it is installed. systemctl and journalctl for the unit come
 * from the app runtime's programs, since the unit lives among its units.
 */
import { fail, ok, type CommandPlan, type CommandResult } from '../command-types';
import type { HostCommandExtension } from '../command-extension';
import type { AppHost } from '../app-runtime/app-host';
import { parseEnvFile } from '../app-runtime/host-files';
import { installOrchestrator, ORCHESTRATOR_INSTALLER } from './installer';
import { POOL_USER, workerArgs, type WorkerPools } from './pools';
import { hostRows, ps, type OtherProcess, type ProcRow } from '../process-table';

export type { OtherProcess } from '../process-table';

export const ORCHESTRATOR_BINARY = '/usr/local/bin/gpu-orchestrator';
export const ORCHESTRATOR_ENV = '/etc/gpu-orchestrator/orchestrator.env';

/** Real durations, in ms. */
const PS_MS = 25;
const KILL_MS = 2;

const SIGNALS: Record<string, 'TERM' | 'KILL' | 0> = { TERM: 'TERM', SIGTERM: 'TERM', '15': 'TERM', KILL: 'KILL', SIGKILL: 'KILL', '9': 'KILL', '0': 0 };

/** The host's processes with the pool workers it runs. */
function rows(host: AppHost, pools: WorkerPools, others: readonly OtherProcess[]): ProcRow[] {
  const out = hostRows(host, others);
  for (const w of pools.workersOn(host.nodeId)) {
    const pool = pools.get(w.poolId)!;
    out.push({ pid: w.pid, ppid: 1, user: POOL_USER, rssKiB: Math.round(w.rssMiB * 1024), startedAt: w.startedAt, args: workerArgs(pool, w.gpuIndex) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** bash's kill builtin: -SIG, -s SIG, -n N; one message per PID that does not exist. */
export function kill(host: AppHost, pools: WorkerPools, others: readonly OtherProcess[], args: readonly string[]): CommandResult {
  let sig: 'TERM' | 'KILL' | 0 = 'TERM';
  const targets: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-s' || a === '-n') && targets.length === 0) {
      const v = args[++i] ?? '';
      const s = SIGNALS[v.toUpperCase()];
      if (s === undefined) return fail(1, `bash: kill: ${v}: invalid signal specification\n`);
      sig = s;
    } else if (a.startsWith('-') && targets.length === 0 && a !== '--') {
      const s = SIGNALS[a.slice(1).toUpperCase()];
      if (s === undefined) return fail(1, `bash: kill: ${a.slice(1)}: invalid signal specification\n`);
      sig = s;
    } else if (a !== '--') targets.push(a);
  }
  if (targets.length === 0) return fail(2, 'kill: usage: kill [-s sigspec | -n signum | -sigspec] pid | jobspec ... or kill -l [sigspec]\n');
  let stderr = '';
  const signalled: number[] = [];
  for (const t of targets) {
    if (!/^\d+$/.test(t)) {
      stderr += `bash: kill: ${t}: arguments must be process or job IDs\n`;
      continue;
    }
    const pid = Number(t);
    const unit = [...host.units.values()].find((u) => u.mainPid === pid);
    const worker = pools.workersOn(host.nodeId).find((w) => w.pid === pid);
    const other = others.find((o) => o.alive && o.nodeId === host.nodeId && o.pid === pid);
    if (!unit && !worker && !other) {
      stderr += `bash: kill: (${pid}) - No such process\n`;
      continue;
    }
    if (sig === 0) continue;
    if (unit) unit.signal(sig);
    else if (worker) pools.signal(host.nodeId, pid, sig);
    else other!.alive = false;
    signalled.push(pid);
  }
  const result: CommandResult = { stdout: '', stderr, exitCode: stderr ? 1 : 0 };
  if (sig !== 0 && signalled.length) result.mutation = { kind: 'process_kill', applied: true, detail: { pids: signalled, signal: sig } };
  return result;
}

/** The package step on a replica host: the unit it restarts, and whether the mirror fails it now (fault). */
export interface InstallerDeps {
  unit: string;
  failing(): boolean;
}

export function orchestratorPrograms(host: AppHost, pools: WorkerPools, others: readonly OtherProcess[], installer: InstallerDeps): HostCommandExtension {
  const isBinary = (arg0: string) => arg0 === 'gpu-orchestrator' || arg0 === ORCHESTRATOR_BINARY;
  const isInstaller = (arg0: string) => (arg0 === 'gpu-orchestrator-install' || arg0 === ORCHESTRATOR_INSTALLER) && host.files.exists(ORCHESTRATOR_INSTALLER);
  const has = (program: string) =>
    program === 'ps' ||
    program === '/usr/bin/ps' ||
    program === 'kill' ||
    (isBinary(program) && host.files.exists(ORCHESTRATOR_BINARY)) ||
    isInstaller(program);
  const plan = (argv: readonly string[]): CommandPlan | undefined => {
    const [arg0 = '', ...args] = argv;
    if (isInstaller(arg0)) return installOrchestrator(host, args, installer.unit, installer.failing);
    if (arg0 === 'ps' || arg0 === '/usr/bin/ps' || arg0 === '/bin/ps') return { durationMs: PS_MS, finish: () => ps(rows(host, pools, others), args) };
    if (arg0 === 'kill') return { durationMs: KILL_MS, finish: () => kill(host, pools, others, args) };
    if (isBinary(arg0) && host.files.exists(ORCHESTRATOR_BINARY)) {
      return {
        durationMs: 40,
        finish: () => {
          if (args[0] !== '--version') return fail(2, 'usage: gpu-orchestrator [--version] [--config FILE]\n');
          const version = parseEnvFile(host.files.read(ORCHESTRATOR_ENV) ?? '').get('ORCHESTRATOR_VERSION') ?? 'unknown';
          return ok(`gpu-orchestrator ${version}\n`);
        },
      };
    }
    return undefined;
  };
  return { plan, has };
}
