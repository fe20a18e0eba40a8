/**
 * systemd's side of detached jobs: parsing `systemd-run` and `systemctl` command
 * lines the way their getopt does, and printing `systemctl show` properties. The
 * unit table itself lives in HostRuntime.
 */

/** Where a unit's stdout/stderr goes: a file (opened at start) or nowhere we keep. */
export type OutputTarget = { mode: 'truncate' | 'append' | 'file'; path: string } | null;

export interface RunRequest {
  /** "NAME.service", or undefined for a generated name. */
  unit?: string;
  quiet: boolean;
  remainAfterExit: boolean;
  collect: boolean;
  description?: string;
  stdout: OutputTarget;
  stderr: OutputTarget;
  command: string[];
}

export type Parse<T> = { ok: true; value: T } | { ok: false; stderr: string; exitCode: number };

const bad = <T>(stderr: string, exitCode = 1): Parse<T> => ({ ok: false, stderr, exitCode });

/** Valid unit name characters (systemd's VALID_CHARS plus '\' escapes are not needed here). */
const UNIT_NAME = /^[A-Za-z0-9:_.-]+$/;

/** systemd-run options that exist but change semantics the lab does not model. */
const RUN_UNSIMULATED = new Set([
  '--wait',
  '-P',
  '--pipe',
  '-t',
  '--pty',
  '--scope',
  '--user',
  '--system',
  '--slice',
  '--slice-inherit',
  '--service-type',
  '--uid',
  '--gid',
  '--nice',
  '--working-directory',
  '-d',
  '--same-dir',
  '-E',
  '--setenv',
  '--on-active',
  '--on-boot',
  '--on-startup',
  '--on-unit-active',
  '--on-unit-inactive',
  '--on-calendar',
  '--on-timezone-change',
  '--on-clock-change',
  '--timer-property',
  '--path-property',
  '--socket-property',
  '-H',
  '--host',
  '-M',
  '--machine',
  '-S',
  '--shell',
  '--send-sighup',
  '--json',
  '--job-mode',
  '--expand-environment',
  '--ignore-failure',
  '--background',
]);
const RUN_WITH_VALUE = new Set(['--unit', '-u', '--property', '-p', '--description']);
const RUN_FLAGS = new Set(['--quiet', '-q', '--remain-after-exit', '-r', '--collect', '-G', '--no-block', '--no-ask-password']);

/** Properties accepted without an effect the lab can observe. */
const INERT_PROPERTIES = new Set([
  'TimeoutStopSec',
  'TimeoutStartSec',
  'KillMode',
  'KillSignal',
  'SendSIGKILL',
  'Nice',
  'CPUWeight',
  'IOWeight',
  'MemoryMax',
  'MemoryHigh',
  'TasksMax',
  'LimitNOFILE',
  'LimitCORE',
  'Environment',
  'WorkingDirectory',
  'CollectMode',
  'SyslogIdentifier',
  'StandardInput',
  'ProtectSystem',
  'PrivateTmp',
  'NoNewPrivileges',
]);
/** Properties that would change how the job runs (a deadline, restarts, blocking start-up). */
const UNSIMULATED_PROPERTIES = new Set(['Type', 'RuntimeMaxSec', 'Restart', 'RestartSec', 'ExecStartPre', 'ExecStopPost', 'User', 'Group']);

function parseOutput(key: string, value: string): Parse<OutputTarget> {
  const m = /^(truncate|append|file):(.*)$/.exec(value);
  if (m) {
    const path = m[2] ?? '';
    if (!path.startsWith('/')) return bad(`Failed to parse ${key}= value: ${value}: Invalid argument\n`);
    return { ok: true, value: { mode: m[1] as 'truncate' | 'append' | 'file', path } };
  }
  if (['journal', 'null', 'inherit', 'kmsg', 'journal+console', 'kmsg+console', 'tty'].includes(value)) return { ok: true, value: null };
  return bad(`Failed to parse ${key}= value: ${value}: Invalid argument\n`);
}

/** getopt's reading of the options before the command: clusters, attached and separate values. */
function splitOptions(
  args: readonly string[],
  withValue: ReadonlySet<string>,
  prog: string,
): Parse<{ opts: { name: string; value?: string }[]; rest: number }> {
  const opts: { name: string; value?: string }[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') {
      i++;
      break;
    }
    // systemd-run stops at the first word that is not an option ("+" in its optstring).
    if (!a.startsWith('-') || a === '-') break;
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      const name = eq > 0 ? a.slice(0, eq) : a;
      let value = eq > 0 ? a.slice(eq + 1) : undefined;
      if (withValue.has(name) && value === undefined) {
        value = args[++i];
        if (value === undefined) return bad(`${prog}: option '${name}' requires an argument\n`);
      }
      // A flag given "=value" is refused by the caller, which knows the flags ("doesn't allow an argument").
      opts.push({ name, value });
      continue;
    }
    for (let j = 1; j < a.length; j++) {
      const name = `-${a[j]}`;
      if (!withValue.has(name)) {
        opts.push({ name });
        continue;
      }
      let value = a.slice(j + 1);
      if (value === '') {
        const next = args[++i];
        if (next === undefined) return bad(`${prog}: option requires an argument -- '${a[j]}'\n`);
        value = next;
      }
      opts.push({ name, value });
      break;
    }
  }
  return { ok: true, value: { opts, rest: i } };
}

export function parseSystemdRun(args: readonly string[]): Parse<RunRequest> {
  const req: RunRequest = { quiet: false, remainAfterExit: false, collect: false, stdout: null, stderr: null, command: [] };
  const split = splitOptions(args, RUN_WITH_VALUE, 'systemd-run');
  if (!split.ok) return split as Parse<RunRequest>;
  req.command = args.slice(split.value.rest);
  for (const opt of split.value.opts) {
    const value = opt.value;
    if (RUN_FLAGS.has(opt.name) && value !== undefined) return bad(`systemd-run: option '${opt.name}' doesn't allow an argument\n`);
    switch (opt.name) {
      case '--unit':
      case '-u': {
        const name = (value ?? '').replace(/\.service$/, '');
        if (!UNIT_NAME.test(name) || name.length > 250) return bad('Failed to mangle unit name: Invalid argument\n');
        req.unit = `${name}.service`;
        break;
      }
      case '--quiet':
      case '-q':
        req.quiet = true;
        break;
      case '--remain-after-exit':
      case '-r':
        req.remainAfterExit = true;
        break;
      case '--collect':
      case '-G':
        req.collect = true;
        break;
      case '--no-block':
      case '--no-ask-password':
        break;
      case '--description':
        req.description = value ?? '';
        break;
      case '--property':
      case '-p': {
        const assignment = value ?? '';
        const eq = assignment.indexOf('=');
        if (eq <= 0) return bad(`Not an assignment: ${assignment}\n`);
        const key = assignment.slice(0, eq);
        const v = assignment.slice(eq + 1);
        if (key === 'StandardOutput' || key === 'StandardError') {
          const out = parseOutput(key, v);
          if (!out.ok) return out as Parse<RunRequest>;
          if (key === 'StandardOutput') req.stdout = out.value;
          else req.stderr = out.value;
        } else if (key === 'RemainAfterExit') {
          req.remainAfterExit = /^(1|yes|true|on)$/i.test(v);
        } else if (key === 'Description') {
          req.description = v;
        } else if (UNSIMULATED_PROPERTIES.has(key)) {
          return bad(`lab: systemd-run property ${key}= is not simulated\n`);
        } else if (!INERT_PROPERTIES.has(key)) {
          return bad(`Unknown assignment: ${assignment}\n`);
        }
        break;
      }
      default:
        if (RUN_UNSIMULATED.has(opt.name)) return bad(`lab: systemd-run ${opt.name} is not simulated\n`);
        return bad(opt.name.startsWith('--') ? `systemd-run: unrecognized option '${opt.name}'\n` : `systemd-run: invalid option -- '${opt.name.slice(1)}'\n`);
    }
  }
  if (req.command.length === 0) return bad('Command line to execute required.\n');
  return { ok: true, value: req };
}

// ---------------------------------------------------------------------------------------------
// systemctl

export interface SystemctlRequest {
  verb: string;
  units: string[];
  properties: string[] | null;
  valueOnly: boolean;
  quiet: boolean;
}

const CTL_WITH_VALUE = new Set(['--property', '-p', '--type', '-t', '--state']);
const CTL_FLAGS = new Set([
  '--no-pager',
  '--no-legend',
  '--no-block',
  '--no-ask-password',
  '--all',
  '-a',
  '--quiet',
  '-q',
  '--value',
  '--full',
  '-l',
  '--plain',
]);

/** "x" → "x.service" (systemctl's default suffix); names with a unit suffix stay as they are. */
export function unitName(name: string): string {
  return /\.(service|socket|target|timer|mount|scope|slice|path|device|swap|automount)$/.test(name) ? name : `${name}.service`;
}

export function parseSystemctl(args: readonly string[]): Parse<SystemctlRequest> {
  const req: SystemctlRequest = { verb: '', units: [], properties: null, valueOnly: false, quiet: false };
  const words: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '--') {
      words.push(...args.slice(i + 1));
      break;
    }
    if (!a.startsWith('-') || a === '-') {
      words.push(a);
      continue;
    }
    let name = a;
    let value: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      name = a.slice(0, a.indexOf('='));
      value = a.slice(a.indexOf('=') + 1);
    } else if (!a.startsWith('--') && a.length > 2) {
      name = a.slice(0, 2);
      value = a.slice(2);
    }
    if (CTL_WITH_VALUE.has(name)) {
      if (value === undefined) {
        value = args[++i];
        if (value === undefined) return bad(`systemctl: option '${name}' requires an argument\n`);
      }
      if (name === '--property' || name === '-p') req.properties = [...(req.properties ?? []), ...value.split(',').filter(Boolean)];
      continue;
    }
    if (CTL_FLAGS.has(name) && value === undefined) {
      if (name === '--value') req.valueOnly = true;
      if (name === '--quiet' || name === '-q') req.quiet = true;
      continue;
    }
    return bad(name.startsWith('--') ? `systemctl: unrecognized option '${name}'\n` : `systemctl: invalid option -- '${name.slice(1)}'\n`);
  }
  req.verb = words[0] ?? '';
  req.units = words.slice(1).map(unitName);
  return { ok: true, value: req };
}

/** What `systemctl show` knows about one unit. */
export interface UnitView {
  id: string;
  description: string;
  loadState: 'loaded' | 'not-found';
  activeState: 'active' | 'inactive' | 'failed';
  subState: 'running' | 'exited' | 'failed' | 'dead';
  result: 'success' | 'exit-code';
  remainAfterExit: boolean;
  mainPid: number;
  execMainPid: number;
  /** CLD_EXITED (1) once the main process exited; 0 before. */
  execMainCode: number;
  execMainStatus: number;
  startedAt: Date | null;
  exitedAt: Date | null;
}

export function notFoundUnit(id: string): UnitView {
  return {
    id,
    description: id,
    loadState: 'not-found',
    activeState: 'inactive',
    subState: 'dead',
    result: 'success',
    remainAfterExit: false,
    mainPid: 0,
    execMainPid: 0,
    execMainCode: 0,
    execMainStatus: 0,
    startedAt: null,
    exitedAt: null,
  };
}

const WEEKDAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

/** systemd's timestamp style: "Sun 2026-11-22 10:15:30 UTC". */
function timestamp(d: Date | null): string {
  if (!d) return '';
  return `${WEEKDAYS[d.getUTCDay()]} ${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)} UTC`;
}

/**
 * Properties in the order `systemctl show` prints them: the Service interface
 * (Type ... ExecMainStatus) comes before the Unit interface (Id ... SubState).
 */
const SHOW_PROPERTIES: [string, (u: UnitView) => string][] = [
  ['Type', () => 'simple'],
  ['Restart', () => 'no'],
  ['RemainAfterExit', (u) => (u.remainAfterExit ? 'yes' : 'no')],
  ['MainPID', (u) => String(u.mainPid)],
  ['Result', (u) => u.result],
  ['ExecMainStartTimestamp', (u) => timestamp(u.startedAt)],
  ['ExecMainExitTimestamp', (u) => timestamp(u.exitedAt)],
  ['ExecMainPID', (u) => String(u.execMainPid)],
  ['ExecMainCode', (u) => String(u.execMainCode)],
  ['ExecMainStatus', (u) => String(u.execMainStatus)],
  ['Id', (u) => u.id],
  ['Names', (u) => u.id],
  ['Description', (u) => u.description],
  ['LoadState', (u) => u.loadState],
  ['ActiveState', (u) => u.activeState],
  ['SubState', (u) => u.subState],
];

/** One unit's block; unknown property names are skipped silently like systemctl does. */
export function formatShow(u: UnitView, properties: string[] | null, valueOnly: boolean): string {
  const wanted = properties === null ? null : new Set(properties);
  return SHOW_PROPERTIES.filter(([k]) => wanted === null || wanted.has(k))
    .map(([k, f]) => (valueOnly ? `${f(u)}\n` : `${k}=${f(u)}\n`))
    .join('');
}
