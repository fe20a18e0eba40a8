/**
 * Long-running systemd services of one host (the node-agent, slurmd, the Slurm
 * controller and slurmctld): installed or not, enabled, their main process, and
 * what systemd does when that process exits (Restart=on-failure). What the
 * process does while it runs is its behaviour (node-agent.ts, controller.ts,
 * slurm-cluster.ts); systemd's own journal lines are written here.
 */
import type { SimHostState } from '../gpu-host-state';
import type { HostFiles } from './host-files';
import type { Scheduler, Timer } from './scheduler';
import type { UnitJournal } from './unit-journal';

export interface UnitDefinition {
  id: string;
  description: string;
  /** Where the unit file lives: "/etc/systemd/system/x.service". */
  fragment: string;
  docs: string;
  /** ExecStart as systemd shows it in the CGroup tree. */
  execStart: string;
  restart: 'no' | 'on-failure';
  /** RestartSec in real milliseconds. */
  restartSecMs: number;
  /** EnvironmentFile= without "-": the unit cannot start when it is missing. */
  environmentFile?: string;
  tasks: number;
  memoryMiB: number;
}

/** What the main process can do to itself. */
export interface ProcessContext {
  pid: number;
  /** Writes a line to the journal as the process (SYSLOG_IDENTIFIER from ExecStart). */
  log(message: string): void;
  /** The process exits with `status`; systemd takes it from there. */
  exit(status: number): void;
  after(realMs: number, fn: () => void): Timer;
  /** True when the lab set the process up as already running (reset, fault set-up): no start-up lines. */
  resumed: boolean;
}

/** A main process's behaviour; a new one for every start. */
export interface ServiceProcess {
  /** The process is running (PID assigned); it sets up its own timers with ctx.after. */
  run(ctx: ProcessContext): void;
  /** SIGTERM from `systemctl stop`: the last lines the process writes. */
  stopping?(): void;
  /** The process is gone, however it ended (stop, exit, host down); its timers are already cancelled. */
  ended?(): void;
}

export type UnitSubState = 'dead' | 'running' | 'failed' | 'auto-restart';

export interface UnitStatus {
  id: string;
  installed: boolean;
  enabled: boolean;
  activeState: 'active' | 'inactive' | 'failed' | 'activating';
  subState: UnitSubState;
  result: 'success' | 'exit-code' | 'resources' | 'signal';
  mainPid: number;
  since: Date | null;
}

const USEC = {
  sec: 1_000_000,
  min: 60_000_000,
  hour: 3_600_000_000,
  day: 86_400_000_000,
  week: 604_800_000_000,
  month: 2_629_800_000_000,
  year: 31_557_600_000_000,
};

/** systemd's format_timestamp_relative: "2h 3min ago", "1 day 4h ago", "45s ago". */
export function relativeAgo(thenMs: number, nowMs: number): string {
  const d = Math.max(0, nowMs - thenMs) * 1000;
  const f = (x: number, unit: number) => Math.floor(x / unit);
  if (d >= USEC.year) return `${f(d, USEC.year)} years ${f(d % USEC.year, USEC.month)} months ago`;
  if (d >= USEC.month) return `${f(d, USEC.month)} months ${f(d % USEC.month, USEC.day)} days ago`;
  if (d >= USEC.week) return `${f(d, USEC.week)} weeks ${f(d % USEC.week, USEC.day)} days ago`;
  if (d >= 2 * USEC.day) return `${f(d, USEC.day)} days ago`;
  if (d >= 25 * USEC.hour) return `1 day ${f(d - USEC.day, USEC.hour)}h ago`;
  if (d >= 6 * USEC.hour) return `${f(d, USEC.hour)}h ago`;
  if (d >= USEC.hour) return `${f(d, USEC.hour)}h ${f(d % USEC.hour, USEC.min)}min ago`;
  if (d >= 5 * USEC.min) return `${f(d, USEC.min)}min ago`;
  if (d >= USEC.min) return `${f(d, USEC.min)}min ${f(d % USEC.min, USEC.sec)}s ago`;
  if (d >= USEC.sec) return `${f(d, USEC.sec)}s ago`;
  if (d >= 1000) return `${f(d, 1000)}ms ago`;
  return d > 0 ? `${d}us ago` : 'now';
}

/** "1min 2.345s", "2h 3min 4.567s", "41ms" (systemd's format_timespan at millisecond accuracy). */
export function timespan(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.round(ms))}ms`;
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['min', 60_000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (rest > 0) parts.push(rest % 1000 === 0 ? `${rest / 1000}s` : `${(rest / 1000).toFixed(3).replace(/0+$/, '')}s`);
  return parts.join(' ');
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** "Tue 2026-04-08 10:00:00 UTC" */
export function systemdTimestamp(d: Date): string {
  const iso = d.toISOString();
  return `${WEEKDAYS[d.getUTCDay()]} ${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC`;
}

export class ServiceUnit {
  installed = true;
  enabled = true;
  private sub: UnitSubState = 'dead';
  private result: UnitStatus['result'] = 'success';
  private pid = 0;
  /** PID and exit status of the last main process that exited (for status). */
  private lastExit: { pid: number; status: number | 'TERM' | 'KILL' } | null = null;
  private since: Date | null = null;
  private activeSince: Date | null = null;
  private lastDurationMs: number | null = null;
  private restarts = 0;
  private timers: Timer[] = [];
  private proc: ServiceProcess | null = null;
  private restartTimer: Timer | null = null;
  private cpuMs = 0;

  constructor(
    readonly def: UnitDefinition,
    private readonly host: { state: SimHostState; journal: UnitJournal; scheduler: Scheduler; files: HostFiles },
    private readonly behaviour: () => ServiceProcess,
  ) {}

  get id(): string {
    return this.def.id;
  }

  get running(): boolean {
    return this.sub === 'running';
  }

  get mainPid(): number {
    return this.running ? this.pid : 0;
  }

  status(): UnitStatus {
    const activeState = this.sub === 'running' ? 'active' : this.sub === 'failed' ? 'failed' : this.sub === 'auto-restart' ? 'activating' : 'inactive';
    return {
      id: this.def.id,
      installed: this.installed,
      enabled: this.enabled,
      activeState,
      subState: this.sub,
      result: this.result,
      mainPid: this.mainPid,
      since: this.since,
    };
  }

  /** `systemctl start`: a no-op when running. Returns systemctl's error text when the start job fails. */
  start(now = new Date()): { ok: true } | { ok: false; stderr: string; exitCode: number } {
    if (!this.installed) return { ok: false, stderr: `Failed to start ${this.id}: Unit ${this.id} not found.\n`, exitCode: 5 };
    if (this.sub === 'running') return { ok: true };
    this.cancelRestart();
    return this.launch(now);
  }

  /** `systemctl stop`: SIGTERM to the main process; the unit ends inactive (dead). */
  stop(now = new Date()): { ok: true } | { ok: false; stderr: string; exitCode: number } {
    if (!this.installed) return { ok: false, stderr: `Failed to stop ${this.id}: Unit ${this.id} not loaded.\n`, exitCode: 5 };
    this.cancelRestart();
    if (this.sub !== 'running') {
      // Stopping a failed or restarting unit leaves it inactive and forgets the failure.
      if (this.sub === 'auto-restart' || this.sub === 'failed') this.enter('dead', 'success', now);
      return { ok: true };
    }
    this.log('systemd', 1, `Stopping ${this.id} - ${this.def.description}...`, now);
    this.proc?.stopping?.();
    this.killProcess();
    this.lastExit = { pid: this.pid, status: 0 };
    this.log('systemd', 1, `${this.id}: Deactivated successfully.`, now);
    this.log('systemd', 1, `Stopped ${this.id} - ${this.def.description}.`, now);
    this.enter('dead', 'success', now);
    return { ok: true };
  }

  restart(now = new Date()): { ok: true } | { ok: false; stderr: string; exitCode: number } {
    if (!this.installed) return { ok: false, stderr: `Failed to restart ${this.id}: Unit ${this.id} not found.\n`, exitCode: 5 };
    if (this.sub === 'running') this.stop(now);
    this.cancelRestart();
    return this.launch(now);
  }

  /**
   * kill(1) on the main process. SIGTERM: the process shuts down as on `systemctl
   * stop` and the unit ends inactive (a clean exit is not restarted). SIGKILL: it
   * dies at once, systemd logs it, and Restart=on-failure starts a new one.
   */
  signal(sig: 'TERM' | 'KILL', now = new Date()): void {
    if (this.sub !== 'running') return;
    if (sig === 'TERM') {
      this.proc?.stopping?.();
      this.killProcess();
      this.lastExit = { pid: this.pid, status: 0 };
      this.log('systemd', 1, `${this.id}: Deactivated successfully.`, now);
      this.enter('dead', 'success', now);
      return;
    }
    this.killProcess();
    this.lastExit = { pid: this.pid, status: 'KILL' };
    this.log('systemd', 1, `${this.id}: Main process exited, code=killed, status=9/KILL`, now);
    this.log('systemd', 1, `${this.id}: Failed with result 'signal'.`, now);
    if (this.def.restart === 'on-failure') this.scheduleRestart('signal', now);
    else this.enter('failed', 'signal', now);
  }

  /** The host went down: the process dies with no journal lines (the journal is not written during a crash). */
  kill(): void {
    this.cancelRestart();
    this.killProcess();
    this.sub = 'dead';
    this.since = null;
  }

  /** Lab reset or fault set-up: running since `since` without any start lines, behaviour started. */
  assumeRunning(since: Date): void {
    this.cancelRestart();
    this.killProcess();
    this.installed = true;
    this.pid = this.host.state.nextPid();
    this.sub = 'running';
    this.result = 'success';
    this.since = since;
    this.activeSince = since;
    this.cpuMs = 40_000 + Math.floor(Math.random() * 60_000);
    this.proc = this.behaviour();
    this.proc.run(this.context(this.pid, true));
  }

  /** Not installed at all (no unit file): status says "could not be found". */
  uninstall(): void {
    this.kill();
    this.installed = false;
    this.lastExit = null;
    this.restarts = 0;
  }

  /** The PID of the main process, for journal lines written on its behalf. */
  get pidForLog(): number {
    return this.pid;
  }

  log(ident: string, pid: number, message: string, at = new Date()): void {
    this.host.journal.write(this.id, ident, pid, message, at);
  }

  /** `systemctl status` for this unit, journal tail included (10 lines, like systemctl's default). */
  formatStatus(now: Date, journalTail: string[]): string {
    const d = this.def;
    const st = this.status();
    const glyph = st.activeState === 'failed' ? '×' : st.activeState === 'inactive' ? '○' : '●';
    const lines = [`${glyph} ${d.id} - ${d.description}`];
    lines.push(`     Loaded: loaded (${d.fragment}; ${this.enabled ? 'enabled' : 'disabled'}; preset: enabled)`);
    const since = this.since ? ` since ${systemdTimestamp(this.since)}; ${relativeAgo(this.since.getTime(), now.getTime())}` : '';
    if (this.sub === 'running') lines.push(`     Active: active (running)${since}`);
    else if (this.sub === 'auto-restart') lines.push(`     Active: activating (auto-restart) (Result: ${this.result})${since}`);
    else if (this.sub === 'failed') lines.push(`     Active: failed (Result: ${this.result})${since}`);
    else lines.push(`     Active: inactive (dead)${since}`);
    if (this.sub !== 'running' && this.lastDurationMs !== null && this.since) lines.push(`   Duration: ${timespan(this.lastDurationMs)}`);
    lines.push(`       Docs: ${d.docs}`);
    if (this.sub === 'running') {
      const comm = (d.execStart.split(' ')[0] ?? '').split('/').pop() ?? '';
      lines.push(`   Main PID: ${this.pid} (${comm.slice(0, 15)})`);
      lines.push(`      Tasks: ${d.tasks} (limit: 618654)`);
      lines.push(`     Memory: ${d.memoryMiB.toFixed(1)}M (peak: ${(d.memoryMiB * 1.3).toFixed(1)}M)`);
      lines.push(`        CPU: ${timespan(this.cpuMs + (now.getTime() - (this.activeSince?.getTime() ?? now.getTime())) / 400)}`);
      lines.push(`     CGroup: /system.slice/${d.id}`);
      lines.push(`             └─${this.pid} ${d.execStart}`);
    } else if (this.lastExit && this.result !== 'resources') {
      const how =
        typeof this.lastExit.status === 'string'
          ? `code=killed, signal=${this.lastExit.status}`
          : `code=exited, status=${this.lastExit.status}/${this.lastExit.status === 0 ? 'SUCCESS' : 'FAILURE'}`;
      lines.push(`   Main PID: ${this.lastExit.pid} (${how})`);
      lines.push(`        CPU: ${timespan(this.cpuMs)}`);
    }
    const tail = journalTail.length > 0 ? ['', ...journalTail] : [];
    return `${[...lines, ...tail].join('\n')}\n`;
  }

  // -------------------------------------------------------------------------------------------

  private launch(now: Date): { ok: true } | { ok: false; stderr: string; exitCode: number } {
    const envFile = this.def.environmentFile;
    if (envFile && !this.host.files.exists(envFile)) {
      this.log('systemd', 1, `${this.id}: Failed to load environment files: No such file or directory`, now);
      this.log('systemd', 1, `${this.id}: Failed to run 'start' task: No such file or directory`, now);
      this.log('systemd', 1, `${this.id}: Failed with result 'resources'.`, now);
      this.log('systemd', 1, `Failed to start ${this.id} - ${this.def.description}.`, now);
      this.lastDurationMs = null;
      this.enter('failed', 'resources', now);
      const name = this.id;
      return {
        ok: false,
        exitCode: 1,
        stderr: `Job for ${name} failed because of unavailable resources or another system error.\nSee "systemctl status ${name}" and "journalctl -xeu ${name}" for details.\n`,
      };
    }
    this.pid = this.host.state.nextPid();
    this.cpuMs = 0;
    this.activeSince = now;
    this.enter('running', 'success', now);
    this.log('systemd', 1, `Started ${this.id} - ${this.def.description}.`, now);
    this.proc = this.behaviour();
    this.proc.run(this.context(this.pid, false));
    return { ok: true };
  }

  private context(pid: number, resumed: boolean): ProcessContext {
    const ident = (this.def.execStart.split(' ')[0] ?? '').split('/').pop() ?? this.id;
    const alive = () => this.sub === 'running' && this.pid === pid;
    return {
      pid,
      resumed,
      log: (message) => {
        if (alive()) this.log(ident, pid, message);
      },
      exit: (status) => {
        if (alive()) this.processExited(status);
      },
      after: (realMs, fn) => {
        const t = this.host.scheduler.after(realMs, () => {
          this.timers = this.timers.filter((x) => x !== t);
          if (alive()) fn();
        });
        this.timers.push(t);
        return t;
      },
    };
  }

  private processExited(status: number, now = new Date()): void {
    this.killProcess();
    this.lastExit = { pid: this.pid, status };
    this.cpuMs += 30 + Math.floor(Math.random() * 20);
    if (status === 0) {
      this.log('systemd', 1, `${this.id}: Deactivated successfully.`, now);
      this.enter('dead', 'success', now);
      return;
    }
    this.log('systemd', 1, `${this.id}: Main process exited, code=exited, status=${status}/FAILURE`, now);
    this.log('systemd', 1, `${this.id}: Failed with result 'exit-code'.`, now);
    if (this.def.restart === 'on-failure') this.scheduleRestart('exit-code', now);
    else this.enter('failed', 'exit-code', now);
  }

  private scheduleRestart(result: UnitStatus['result'], now: Date): void {
    this.enter('auto-restart', result, now);
    this.restartTimer = this.host.scheduler.after(this.def.restartSecMs, () => {
      this.restartTimer = null;
      if (this.sub !== 'auto-restart') return;
      this.restarts++;
      this.log('systemd', 1, `${this.id}: Scheduled restart job, restart counter is at ${this.restarts}.`);
      this.launch(new Date());
    });
  }

  private enter(sub: UnitSubState, result: UnitStatus['result'], now: Date): void {
    if (this.sub === 'running' && sub !== 'running' && this.activeSince) this.lastDurationMs = now.getTime() - this.activeSince.getTime();
    this.sub = sub;
    this.result = result;
    this.since = now;
  }

  private killProcess(): void {
    for (const t of this.timers) t.cancel();
    this.timers = [];
    const proc = this.proc;
    this.proc = null;
    proc?.ended?.();
  }

  private cancelRestart(): void {
    this.restartTimer?.cancel();
    this.restartTimer = null;
  }
}
