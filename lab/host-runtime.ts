/**
 * What runs on one simulated host: processes with real durations, transient
 * systemd units, and the host-level faults that act on them.
 *
 * Every exec starts a process. Its effects and its output happen when it exits
 * (durations × timeScale); a client that goes away does not stop it, like a
 * non-pty exec whose sshd channel closes while the program keeps running. A
 * reboot or a lab reset kills every process (no effects) and drops every unit.
 */
import type { Logger } from 'pino';
import type { HostCommandExtension } from './command-extension';
import { answer, DURATIONS, fail, type CommandContext, type GpuProcess, type CommandPlan, type CommandResult } from './command-types';
import type { SimHostState } from './gpu-host-state';
import { planCommand, programExists } from './host-commands';
import type { ProcessRecord, Records } from './records';
import { parseCommandLine } from './shell';
import { formatShow, notFoundUnit, parseSystemctl, parseSystemdRun, type OutputTarget, type RunRequest, type UnitView } from './systemd';

export interface HostRuntimeOptions {
  state: SimHostState;
  /** Multiplies every simulated duration (> 0; 1 = real time). */
  timeScale: number;
  records: Records;
  /** Allocations running on this node, from the platform. */
  platform(): Pick<CommandContext, 'allocatedGpus' | 'allocationsRunning'>;
  /** Processes outside this runtime that hold GPU memory (the orchestrator's workers); none by default. */
  gpuProcesses?(): GpuProcess[];
  /** A `systemctl reboot` finished: the host must go down. */
  reboot(): void;
  /** Programs another part of the lab installs on this host (asked before the built-in ones). */
  commands?: HostCommandExtension;
  logger?: Logger;
}

export interface ExecHandle {
  /** A drop-connection fault matched: the caller cuts the SSH connection; the process runs on. */
  dropConnection: boolean;
}

interface RunningProcess {
  pid: number;
  plan: CommandPlan;
  record: ProcessRecord;
  timer: NodeJS.Timeout;
  /** Called with the result when the process exits (never when it is killed). */
  exited(result: CommandResult): void;
}

interface TransientUnit {
  id: string;
  description: string;
  remainAfterExit: boolean;
  collect: boolean;
  pid: number;
  state: 'running' | 'exited' | 'failed';
  exitStatus: number;
  startedAt: Date;
  exitedAt: Date | null;
  process: RunningProcess | null;
}

/** Unit verbs of systemctl the runtime answers; others (reboot) are plain programs. */
const UNIT_VERBS = new Set(['show', 'stop', 'reset-failed', 'is-active', 'is-failed']);

/** Programs may be named by path; the simulated binaries live in the usual directories. */
function programName(arg0: string): string {
  const m = /^\/(?:usr\/)?s?bin\/([^/]+)$/.exec(arg0);
  return m?.[1] ?? arg0;
}

export class HostRuntime {
  private readonly processes = new Map<number, RunningProcess>();
  private readonly units = new Map<string, TransientUnit>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private dropFaults: { prefix: string; remaining: number }[] = [];
  private anonymousUnits = 0;

  constructor(private readonly opts: HostRuntimeOptions) {
    if (!(opts.timeScale > 0)) throw new RangeError(`timeScale must be > 0, got ${opts.timeScale}`);
  }

  private get state(): SimHostState {
    return this.opts.state;
  }

  /**
   * Starts the command line as a process. `exited` gets its result when it exits,
   * unless it is killed first. `stdin` is what the client sent up to EOF, for a
   * program that reads it (see stdin.ts); never recorded.
   */
  exec(command: string, exited: (result: CommandResult) => void, stdin: string | null = null): ExecHandle {
    const { records, state } = this.opts;
    const rec = records.command({ node_id: state.nodeId, host_name: state.hostname, command });
    const done = (result: CommandResult) => {
      rec.exit_code = result.exitCode;
      exited(result);
    };
    const parsed = parseCommandLine(command);
    if (!parsed.ok) {
      // bash refuses the line itself; no program runs.
      this.after(DURATIONS.shell, () => done(fail(2, `${parsed.message}\n`)));
      return { dropConnection: false };
    }
    const argv = parsed.argv;
    let program: readonly string[] = argv;
    let plan: CommandPlan;
    if (programName(argv[0] ?? '') === 'systemd-run') {
      // The unit (and its process) exists as soon as systemd-run has asked for it.
      const started = this.systemdRun(argv.slice(1));
      plan = answer(DURATIONS.small, started.result);
      program = started.program ?? argv;
    } else {
      plan = this.plan(argv, stdin);
    }
    this.spawn(argv, plan, null, done);
    return { dropConnection: this.takeDropFault(argv, program) };
  }

  /** Cuts the connection of the next `count` commands whose argv (or systemd-run's program) starts with `prefix`. */
  addDropConnection(prefix: string, count: number): void {
    this.dropFaults.push({ prefix, remaining: count });
  }

  /** A reboot: every process dies without effect, every transient unit is gone. */
  killAll(): void {
    for (const p of [...this.processes.values()]) this.kill(p);
    this.units.clear();
  }

  /** Lab reset: as after a reboot, and the host's injected faults are forgotten. */
  reset(): void {
    this.killAll();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropFaults = [];
  }

  stop(): void {
    this.reset();
  }

  snapshot(): object {
    return {
      time_scale: this.opts.timeScale,
      processes: [...this.processes.values()].map((p) => ({ pid: p.pid, command: p.record.command, unit: p.record.unit, started_at: p.record.started_at })),
      units: [...this.units.values()].map((u) => ({ unit: u.id, state: u.state, pid: u.pid, exit_status: u.state === 'running' ? null : u.exitStatus })),
      drop_connection: this.dropFaults.filter((f) => f.remaining > 0),
    };
  }

  // -------------------------------------------------------------------------------------------

  private context(): CommandContext {
    const running = [...this.processes.values()];
    return {
      now: new Date(),
      ...this.opts.platform(),
      diagRunning: running.some((p) => p.plan.holds?.diag === true),
      gpusInUse: [...new Set(running.flatMap((p) => p.plan.holds?.gpus ?? []))],
      gpuProcesses: this.opts.gpuProcesses?.() ?? [],
    };
  }

  /** The plan of one program run (systemd-run aside). */
  private plan(argv: readonly string[], stdin: string | null = null): CommandPlan {
    const extra = this.opts.commands?.plan(argv, { stdin, transientUnit: (id) => (this.units.has(id) ? this.view(id) : undefined) });
    if (extra) return extra;
    const name = programName(argv[0] ?? '');
    const resolved = [name, ...argv.slice(1)];
    if (name === 'systemctl' && programExists(this.state, name)) {
      const req = parseSystemctl(argv.slice(1));
      if (!req.ok) return answer(DURATIONS.small, fail(req.exitCode, req.stderr));
      if (UNIT_VERBS.has(req.value.verb)) {
        const r = req.value;
        return { durationMs: DURATIONS.small, finish: () => this.systemctl(r.verb, r.units, r.properties, r.valueOnly) };
      }
    }
    return planCommand(this.state, resolved, this.context());
  }

  private spawn(argv: readonly string[], plan: CommandPlan, unit: TransientUnit | null, exited: (r: CommandResult) => void): RunningProcess {
    const { records, state } = this.opts;
    const pid = state.nextPid();
    const record = records.process({ node_id: state.nodeId, pid, command: argv.join(' '), unit: unit?.id ?? null });
    const proc: RunningProcess = {
      pid,
      plan,
      record,
      exited,
      timer: setTimeout(() => this.complete(proc), plan.durationMs * this.opts.timeScale),
    };
    this.processes.set(pid, proc);
    return proc;
  }

  private complete(proc: RunningProcess): void {
    const { records, state, logger } = this.opts;
    this.processes.delete(proc.pid);
    let result: CommandResult;
    try {
      result = proc.plan.finish();
    } catch (err) {
      logger?.error({ node_id: state.nodeId, command: proc.record.command, err }, 'lab command crashed');
      result = { stdout: '', stderr: `lab: internal error: ${(err as Error).message}\n`, exitCode: 255 };
    }
    if (result.mutation) records.mutation({ node_id: state.nodeId, ...result.mutation });
    proc.record.ended_at = new Date().toISOString();
    proc.record.exit_code = result.exitCode;
    proc.exited(result);
    if (result.reboot) this.opts.reboot();
  }

  private kill(proc: RunningProcess): void {
    clearTimeout(proc.timer);
    this.processes.delete(proc.pid);
    proc.record.ended_at = new Date().toISOString();
    proc.record.killed = true;
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms * this.opts.timeScale);
    this.timers.add(t);
  }

  private takeDropFault(argv: readonly string[], program: readonly string[]): boolean {
    const lines = [argv.join(' '), program.join(' ')];
    const fault = this.dropFaults.find((f) => f.remaining > 0 && lines.some((l) => l.startsWith(f.prefix)));
    if (!fault) return false;
    fault.remaining--;
    return true;
  }

  // -------------------------------------------------------------------------------------------
  // systemd-run and systemctl

  /** Starts a transient unit; the result is what systemd-run itself answers. */
  private systemdRun(args: readonly string[]): { result: CommandResult; program?: readonly string[] } {
    const parsed = parseSystemdRun(args);
    if (!parsed.ok) return { result: fail(parsed.exitCode, parsed.stderr) };
    const req = parsed.value;
    const id = req.unit ?? `run-u${++this.anonymousUnits + 100}.service`;
    if (this.units.has(id)) {
      return { result: fail(1, `Failed to start transient service unit: Unit ${id} was already loaded or has a fragment file.\n`) };
    }
    const program = req.command;
    const name = programName(program[0] ?? '');
    // systemd-run resolves the executable itself before asking systemd for the unit.
    if (!programExists(this.state, name) && !this.opts.commands?.has(program[0] ?? '')) {
      return { result: fail(1, `Failed to find executable ${program[0] ?? ''}: No such file or directory\n`) };
    }
    this.startUnit(id, req);
    return { result: { stdout: '', stderr: req.quiet ? '' : `Running as unit: ${id}\n`, exitCode: 0 }, program };
  }

  private startUnit(id: string, req: RunRequest): void {
    const { files } = this.state;
    // systemd opens the output files when it starts the process.
    for (const target of [req.stdout, req.stderr]) {
      if (!target) continue;
      if (target.mode === 'truncate' || !files.has(target.path)) files.set(target.path, '');
    }
    const unit: TransientUnit = {
      id,
      description: req.description ?? `/usr/bin/${programName(req.command[0] ?? '')} ${req.command.slice(1).join(' ')}`.trimEnd(),
      remainAfterExit: req.remainAfterExit,
      collect: req.collect,
      pid: 0,
      state: 'running',
      exitStatus: 0,
      startedAt: new Date(),
      exitedAt: null,
      process: null,
    };
    this.units.set(id, unit);
    const proc = this.spawn(req.command, this.plan(req.command), unit, (result) => this.unitExited(unit, req, result));
    unit.pid = proc.pid;
    unit.process = proc;
  }

  private unitExited(unit: TransientUnit, req: RunRequest, result: CommandResult): void {
    this.writeOutput(req.stdout, result.stdout);
    this.writeOutput(req.stderr, result.stderr);
    unit.process = null;
    unit.exitedAt = new Date();
    unit.exitStatus = result.exitCode;
    // A unit is garbage-collected once inactive unless it failed (or --remain-after-exit keeps it active).
    if (result.exitCode === 0) {
      if (unit.remainAfterExit) unit.state = 'exited';
      else this.unload(unit);
    } else if (unit.collect) {
      this.unload(unit);
    } else {
      unit.state = 'failed';
    }
  }

  private writeOutput(target: OutputTarget, text: string): void {
    if (!target || text === '') return;
    const { files } = this.state;
    files.set(target.path, (files.get(target.path) ?? '') + text);
  }

  private unload(unit: TransientUnit): void {
    if (unit.process) this.kill(unit.process);
    unit.process = null;
    if (this.units.get(unit.id) === unit) this.units.delete(unit.id);
  }

  private view(id: string): UnitView {
    const u = this.units.get(id);
    if (!u) return notFoundUnit(id);
    const running = u.state === 'running';
    return {
      id: u.id,
      description: u.description,
      loadState: 'loaded',
      activeState: u.state === 'failed' ? 'failed' : 'active',
      subState: u.state,
      result: u.state === 'failed' ? 'exit-code' : 'success',
      remainAfterExit: u.remainAfterExit,
      mainPid: running ? u.pid : 0,
      execMainPid: u.pid,
      execMainCode: running ? 0 : 1,
      execMainStatus: running ? 0 : u.exitStatus,
      startedAt: u.startedAt,
      exitedAt: u.exitedAt,
    };
  }

  private systemctl(verb: string, ids: string[], properties: string[] | null, valueOnly: boolean): CommandResult {
    let stdout = '';
    let stderr = '';
    let exitCode = 0;
    const failWith = (code: number, line: string) => {
      stderr += line;
      if (exitCode === 0) exitCode = code;
    };
    switch (verb) {
      case 'show':
        if (ids.length === 0) return fail(1, 'lab: systemctl show without a unit (manager properties) is not simulated\n');
        stdout = ids.map((id) => formatShow(this.view(id), properties, valueOnly)).join('\n');
        break;
      case 'stop':
        if (ids.length === 0) return fail(1, 'Too few arguments.\n');
        for (const id of ids) {
          const u = this.units.get(id);
          if (!u) failWith(5, `Failed to stop ${id}: Unit ${id} not loaded.\n`);
          // Stopping a failed unit is a no-op: it stays failed until reset-failed.
          else if (u.state !== 'failed') this.unload(u);
        }
        break;
      case 'reset-failed': {
        const targets = ids.length > 0 ? ids : [...this.units.values()].filter((u) => u.state === 'failed').map((u) => u.id);
        for (const id of targets) {
          const u = this.units.get(id);
          // systemd answers any loaded unit with success; only a failed one changes (and is then collected).
          if (!u) failWith(1, `Failed to reset failed state of unit ${id}: Unit ${id} not loaded.\n`);
          else if (u.state === 'failed') this.unload(u);
        }
        break;
      }
      case 'is-active':
      case 'is-failed': {
        if (ids.length === 0) return fail(1, 'Too few arguments.\n');
        let any = false;
        for (const id of ids) {
          const v = this.view(id);
          stdout += `${v.activeState}\n`;
          any ||= verb === 'is-active' ? v.activeState === 'active' : v.activeState === 'failed';
        }
        exitCode = any ? 0 : verb === 'is-active' ? 3 : 1;
        break;
      }
    }
    return { stdout, stderr, exitCode };
  }
}
