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

export const ORCHESTRATOR_BINARY = '/usr/local/bin/gpu-orchestrator';
export const ORCHESTRATOR_ENV = '/etc/gpu-orchestrator/orchestrator.env';

/** Real durations, in ms. */
const PS_MS = 25;
const KILL_MS = 2;

interface ProcRow {
  pid: number;
  ppid: number;
  user: string;
  rssKiB: number;
  startedAt: Date;
  args: string;
}

const SIGNALS: Record<string, 'TERM' | 'KILL' | 0> = { TERM: 'TERM', SIGTERM: 'TERM', '15': 'TERM', KILL: 'KILL', SIGKILL: 'KILL', '9': 'KILL', '0': 0 };

/** A process on the host that is neither a unit's nor a pool worker (another tenant's job, one that took a dead worker's PID). */
export interface OtherProcess {
  nodeId: string;
  pid: number;
  user: string;
  rssMiB: number;
  startedAt: Date;
  args: string;
  alive: boolean;
}

function rows(host: AppHost, pools: WorkerPools, others: readonly OtherProcess[]): ProcRow[] {
  const out: ProcRow[] = [{ pid: 1, ppid: 0, user: 'root', rssKiB: 13_312, startedAt: host.lab.state.bootedAt, args: '/sbin/init' }];
  for (const u of host.units.values()) {
    const s = u.status();
    if (!s.installed || s.mainPid === 0) continue;
    out.push({ pid: s.mainPid, ppid: 1, user: 'root', rssKiB: Math.round(u.def.memoryMiB * 1024), startedAt: s.since ?? new Date(), args: u.def.execStart });
  }
  for (const w of pools.workersOn(host.nodeId)) {
    const pool = pools.get(w.poolId)!;
    out.push({ pid: w.pid, ppid: 1, user: POOL_USER, rssKiB: Math.round(w.rssMiB * 1024), startedAt: w.startedAt, args: workerArgs(pool, w.gpuIndex) });
  }
  for (const o of others.filter((x) => x.alive && x.nodeId === host.nodeId)) {
    out.push({ pid: o.pid, ppid: 1, user: o.user, rssKiB: Math.round(o.rssMiB * 1024), startedAt: o.startedAt, args: o.args });
  }
  return out.sort((a, b) => a.pid - b.pid);
}

/** procps' column for one field of -o. */
const COLUMNS: Record<string, { header: string; right: boolean; value(r: ProcRow, now: Date): string }> = {
  pid: { header: 'PID', right: true, value: (r) => String(r.pid) },
  ppid: { header: 'PPID', right: true, value: (r) => String(r.ppid) },
  user: { header: 'USER', right: false, value: (r) => r.user },
  rss: { header: 'RSS', right: true, value: (r) => String(r.rssKiB) },
  etimes: { header: 'ELAPSED', right: true, value: (r, now) => String(Math.max(0, Math.floor((now.getTime() - r.startedAt.getTime()) / 1000))) },
  lstart: { header: 'STARTED', right: false, value: (r) => lstart(r.startedAt) },
  comm: { header: 'COMMAND', right: false, value: (r) => (r.args.split(' ')[0] ?? '').split('/').pop()!.slice(0, 15) },
  args: { header: 'COMMAND', right: false, value: (r) => r.args },
  cmd: { header: 'CMD', right: false, value: (r) => r.args },
};

/** "Wed Apr  8 10:00:00 2026", as ps -o lstart prints it. */
function lstart(d: Date): string {
  const s = d.toUTCString(); // "Wed, 08 Apr 2026 10:00:00 GMT"
  const m = /^(\w+), (\d+) (\w+) (\d+) ([\d:]+)/.exec(s);
  return m ? `${m[1]} ${m[3]} ${m[2]!.replace(/^0/, ' ')} ${m[5]} ${m[4]}` : s;
}

/** ps -e | -p PID[,PID] with -o FIELD[=][,FIELD] and --no-headers; the default columns are PID TTY TIME CMD-like "PID CMD". */
export function ps(host: AppHost, pools: WorkerPools, others: readonly OtherProcess[], args: readonly string[]): CommandResult {
  let all = false;
  let pids: number[] | null = null;
  let fields: { name: string; header: string | null }[] = [
    { name: 'pid', header: null },
    { name: 'args', header: null },
  ];
  let headers = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-e' || a === '-A') all = true;
    else if (a === '-p' || a === '--pid') {
      const v = args[++i];
      if (v === undefined || !/^\d+(,\d+)*$/.test(v)) return fail(1, 'error: process ID list syntax error\n');
      pids = v.split(',').map(Number);
    } else if (a === '-o' || a === '--format') {
      const v = args[++i] ?? '';
      fields = [];
      for (const f of v.split(',')) {
        const [name = '', header] = f.split('=');
        if (!COLUMNS[name]) return fail(1, `error: unknown user-defined format specifier "${name}"\n`);
        fields.push({ name, header: header ?? null });
      }
    } else if (a === '--no-headers' || a === '--no-heading' || a === 'h') headers = false;
    else return fail(1, `error: unsupported option (lab: ps takes -e, -p, -o, --no-headers)\n`);
  }
  if (!all && pids === null) all = true;
  const now = new Date();
  const selected = rows(host, pools, others).filter((r) => all || pids!.includes(r.pid));
  const table = selected.map((r) => fields.map((f) => COLUMNS[f.name]!.value(r, now)));
  const showHeader = headers && fields.some((f) => f.header !== '');
  const head = fields.map((f) => f.header ?? COLUMNS[f.name]!.header);
  const widths = fields.map((_, i) => Math.max(showHeader ? head[i]!.length : 0, ...table.map((row) => row[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const last = i === cells.length - 1;
        return COLUMNS[fields[i]!.name]!.right ? c.padStart(widths[i]!) : last ? c : c.padEnd(widths[i]!);
      })
      .join(' ')
      .trimEnd();
  const lines = [...(showHeader ? [line(head)] : []), ...table.map(line)];
  // ps exits 1 when nothing matched the selection.
  return { stdout: lines.length ? `${lines.join('\n')}\n` : '', stderr: '', exitCode: selected.length ? 0 : 1 };
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
    if (arg0 === 'ps' || arg0 === '/usr/bin/ps' || arg0 === '/bin/ps') return { durationMs: PS_MS, finish: () => ps(host, pools, others, args) };
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
