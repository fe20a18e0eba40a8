/**
 * systemctl and journalctl for the host's long-running services. `systemctl
 * status` answers for every unit (these services, the runtime's transient units,
 * or "could not be found"); the other verbs are taken over only when they name
 * one of these services, so the transient-unit verbs of host-runtime.ts keep
 * working. `journalctl -u` reads the host's service journal; `journalctl -k`
 * stays with journalctl.ts.
 */
import { DURATIONS, fail, ok, type CommandPlan, type CommandResult } from '../../command-types';
import type { ExtensionIo } from '../../command-extension';
import { parseTimestamp } from '../../journalctl';
import { parseSystemctl, unitName, type UnitView } from '../../systemd';
import type { AppHost } from '../app-host';
import { systemdTimestamp, relativeAgo } from '../service-units';
import { formatEntry, type UnitJournalFormat } from '../unit-journal';

/** Real durations, in ms: a start returns once the process is forked, a stop once it exited on SIGTERM. */
const SYSTEMCTL = { status: 30, start: 150, stop: 300, restart: 450 } as const;

/** What systemctl prints for a transient unit (systemd-run): enough for an operator's look. */
function transientStatus(v: UnitView, now: Date): string {
  const glyph = v.activeState === 'failed' ? '×' : '●';
  const since = v.startedAt
    ? ` since ${systemdTimestamp(v.exitedAt ?? v.startedAt)}; ${relativeAgo((v.exitedAt ?? v.startedAt).getTime(), now.getTime())}`
    : '';
  const lines = [
    `${glyph} ${v.id} - ${v.description}`,
    `     Loaded: loaded (/run/systemd/transient/${v.id}; transient)`,
    '  Transient: yes',
    `     Active: ${v.activeState} (${v.subState})${since}`,
  ];
  if (v.mainPid) lines.push(`   Main PID: ${v.mainPid}`);
  else if (v.execMainPid)
    lines.push(`   Main PID: ${v.execMainPid} (code=exited, status=${v.execMainStatus}/${v.execMainStatus === 0 ? 'SUCCESS' : 'FAILURE'})`);
  return `${lines.join('\n')}\n`;
}

/** Drops `-n N` / `--lines=N` (status's journal tail length), which parseSystemctl does not know. */
function splitLines(args: readonly string[]): { args: string[]; lines: number } {
  const out: string[] = [];
  let lines = 10;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-n' || a === '--lines') lines = Number(args[++i] ?? '10');
    else if (/^-n\d+$/.test(a)) lines = Number(a.slice(2));
    else if (a.startsWith('--lines=')) lines = Number(a.slice(8));
    else out.push(a);
  }
  return { args: out, lines: Number.isFinite(lines) && lines >= 0 ? lines : 10 };
}

export function systemctl(host: AppHost, args: readonly string[], io: ExtensionIo): CommandPlan | undefined {
  const split = splitLines(args);
  const parsed = parseSystemctl(split.args);
  if (!parsed.ok) return undefined;
  const { verb, units, quiet } = parsed.value;
  const mine = units.filter((u) => host.units.has(u));
  if (verb === 'daemon-reload') return { durationMs: 200, finish: () => ok('') };
  if (verb === 'status') return { durationMs: SYSTEMCTL.status, finish: () => status(host, units, split.lines, io) };
  if (mine.length === 0) return undefined;
  switch (verb) {
    case 'is-active':
    case 'is-enabled':
    case 'is-failed':
      return {
        durationMs: DURATIONS.small,
        finish: () => {
          const answers = units.map((id) => {
            const u = host.unit(id);
            if (verb === 'is-enabled') {
              if (!u?.installed) return { text: '', good: false, err: `Failed to get unit file state for ${id}: No such file or directory\n` };
              return { text: u.enabled ? 'enabled' : 'disabled', good: u.enabled };
            }
            const state = u?.installed ? u.status().activeState : (io.transientUnit(id)?.activeState ?? 'inactive');
            return { text: state, good: verb === 'is-active' ? state === 'active' : state === 'failed' };
          });
          const stdout = quiet ? '' : answers.map((a) => (a.text ? `${a.text}\n` : '')).join('');
          const stderr = answers.map((a) => a.err ?? '').join('');
          const good = answers.some((a) => a.good);
          return { stdout, stderr, exitCode: good ? 0 : verb === 'is-active' ? 3 : 1 };
        },
      };
    case 'start':
    case 'stop':
    case 'restart':
      if (mine.length !== units.length)
        return { durationMs: DURATIONS.small, finish: () => fail(1, 'lab: mixing transient units and services in one systemctl call is not simulated\n') };
      return { durationMs: SYSTEMCTL[verb], finish: () => control(host, verb, units) };
    case 'enable':
    case 'disable':
      return {
        durationMs: 300,
        finish: () => {
          let stderr = '';
          for (const id of units) {
            const u = host.unit(id);
            if (!u?.installed) return fail(1, `Failed to ${verb} unit: Unit file ${id} does not exist.\n`);
            const wants = `/etc/systemd/system/multi-user.target.wants/${id}`;
            if (verb === 'enable' && !u.enabled) stderr += `Created symlink ${wants} → ${u.def.fragment}.\n`;
            if (verb === 'disable' && u.enabled) stderr += `Removed "${wants}".\n`;
            u.enabled = verb === 'enable';
          }
          return { stdout: '', stderr, exitCode: 0, mutation: { kind: 'unit_enable', applied: true, detail: { units, enabled: verb === 'enable' } } };
        },
      };
    default:
      return undefined;
  }
}

function status(host: AppHost, ids: string[], lines: number, io: ExtensionIo): CommandResult {
  const now = new Date();
  if (ids.length === 0) return fail(1, 'lab: systemctl status without a unit (the whole system) is not simulated\n');
  const blocks: string[] = [];
  let stderr = '';
  let worst = 0;
  for (const id of ids) {
    const u = host.unit(id);
    if (u?.installed) {
      const tail =
        lines === 0
          ? []
          : host.journal
              .forUnits(new Set([id]))
              .slice(-lines)
              .map((e) => formatEntry('short', host.hostname, e).trimEnd());
      blocks.push(u.formatStatus(now, tail));
      if (!u.running) worst = Math.max(worst, 3);
      continue;
    }
    const t = io.transientUnit(id);
    if (t && t.loadState === 'loaded') {
      blocks.push(transientStatus(t, now));
      if (t.activeState !== 'active' || t.subState !== 'running') worst = Math.max(worst, 3);
      continue;
    }
    stderr += `Unit ${id} could not be found.\n`;
    worst = 4;
  }
  return { stdout: blocks.join('\n'), stderr, exitCode: worst };
}

function control(host: AppHost, verb: 'start' | 'stop' | 'restart', ids: string[]): CommandResult {
  let stderr = '';
  let exitCode = 0;
  const done: string[] = [];
  for (const id of ids) {
    const u = host.unit(id)!;
    const r = verb === 'start' ? u.start() : verb === 'stop' ? u.stop() : u.restart();
    if (r.ok) done.push(id);
    else {
      stderr += r.stderr;
      exitCode ||= r.exitCode;
    }
  }
  const kind = verb === 'start' ? 'unit_start' : verb === 'stop' ? 'unit_stop' : 'unit_restart';
  return { stdout: '', stderr, exitCode, mutation: { kind, applied: done.length > 0, detail: { units: ids } } };
}

// ---------------------------------------------------------------------------------------------
// journalctl -u

interface UnitQuery {
  units: Set<string>;
  lines?: number;
  format: UnitJournalFormat;
  quiet: boolean;
  reverse: boolean;
  hostname: boolean;
  sinceUs?: number;
  untilUs?: number;
  grep?: RegExp;
}

const FORMATS = new Set(['short', 'short-precise', 'short-iso', 'short-iso-precise', 'cat']);

/** Whether the journalctl line asks for units (-u / --unit): only those are answered here. */
export function wantsUnits(args: readonly string[]): boolean {
  return args.some((a) => a === '-u' || a === '--unit' || a.startsWith('--unit=') || (/^-u./.test(a) && !a.startsWith('--')));
}

function parseUnitQuery(args: readonly string[], now: Date): { ok: true; q: UnitQuery } | { ok: false; stderr: string } {
  const q: UnitQuery = { units: new Set(), format: 'short', quiet: false, reverse: false, hostname: true };
  let grep: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    let name = a;
    let value: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      name = a.slice(0, a.indexOf('='));
      value = a.slice(a.indexOf('=') + 1);
    } else if (/^-[uoSUgn].+/.test(a)) {
      name = a.slice(0, 2);
      value = a.slice(2);
    }
    const need = () => value ?? args[++i];
    switch (name) {
      case '-u':
      case '--unit': {
        const v = need();
        if (v === undefined) return { ok: false, stderr: `journalctl: option '${a}' requires an argument\n` };
        q.units.add(unitName(v));
        break;
      }
      case '-n':
      case '--lines': {
        let v = value;
        if (v === undefined && /^(\d+|all)$/.test(args[i + 1] ?? '')) v = args[++i];
        if (v === undefined) q.lines = 10;
        else if (v === 'all') q.lines = undefined;
        else if (/^\d+$/.test(v)) q.lines = Number(v);
        else return { ok: false, stderr: `Failed to parse lines '${v}'.\n` };
        break;
      }
      case '-o':
      case '--output': {
        const v = need();
        if (v === undefined) return { ok: false, stderr: `journalctl: option '${a}' requires an argument\n` };
        if (!FORMATS.has(v)) return { ok: false, stderr: `Unknown output format '${v}'.\n` };
        q.format = v as UnitJournalFormat;
        break;
      }
      case '-S':
      case '--since':
      case '-U':
      case '--until': {
        const v = need();
        const us = v === undefined ? undefined : parseTimestamp(v, now);
        if (us === undefined) return { ok: false, stderr: `Failed to parse timestamp: ${v ?? ''}\n` };
        if (name === '-S' || name === '--since') q.sinceUs = us;
        else q.untilUs = us;
        break;
      }
      case '-g':
      case '--grep': {
        grep = need();
        if (grep === undefined) return { ok: false, stderr: `journalctl: option '${a}' requires an argument\n` };
        break;
      }
      case '-q':
      case '--quiet':
        q.quiet = true;
        break;
      case '-r':
      case '--reverse':
        q.reverse = true;
        break;
      case '--no-hostname':
        q.hostname = false;
        break;
      case '--no-pager':
      case '--no-tail':
      case '-x':
      case '--catalog':
      case '-e':
      case '--pager-end':
      case '-b':
      case '--boot':
        break;
      case '-f':
      case '--follow':
        return { ok: false, stderr: 'lab: journalctl -f is not simulated (it never exits)\n' };
      default:
        return {
          ok: false,
          stderr: a.startsWith('--')
            ? `journalctl: unrecognized option '${name}'\n`
            : a.startsWith('-')
              ? `journalctl: invalid option -- '${a.slice(1, 2)}'\n`
              : `lab: journalctl matches (${a}) are not simulated\n`,
        };
    }
  }
  if (grep !== undefined) {
    try {
      q.grep = new RegExp(grep, /[A-Z]/.test(grep) ? '' : 'i');
    } catch (err) {
      return { ok: false, stderr: `Bad pattern "${grep}": ${(err as Error).message}\n` };
    }
  }
  return { ok: true, q };
}

export function journalctlUnits(host: AppHost, args: readonly string[]): CommandPlan {
  const now = new Date();
  const parsed = parseUnitQuery(args, now);
  if (!parsed.ok) return { durationMs: DURATIONS.small, finish: () => fail(1, parsed.stderr) };
  const q = parsed.q;
  let entries = host.journal
    .forUnits(q.units)
    .filter((e) => (q.sinceUs === undefined || e.us >= q.sinceUs) && (q.untilUs === undefined || e.us <= q.untilUs) && (!q.grep || q.grep.test(e.message)));
  if (q.lines !== undefined) entries = q.lines === 0 ? [] : entries.slice(-q.lines);
  if (q.reverse) entries = [...entries].reverse();
  let stdout = entries.map((e) => formatEntry(q.format, q.hostname ? host.hostname : null, e)).join('');
  if (entries.length === 0 && !q.quiet) stdout = '-- No entries --\n';
  const mib = Buffer.byteLength(stdout) / (1024 * 1024);
  const exitCode = q.grep && entries.length === 0 ? 1 : 0;
  return { durationMs: DURATIONS.journalctlBase + DURATIONS.journalctlPerMiB * mib, finish: () => ({ stdout, stderr: '', exitCode }) };
}
