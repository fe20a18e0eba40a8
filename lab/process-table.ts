/**
 * A host's process table as procps' `ps` shows it: init, each running unit's
 * main process and any other process a part of the lab put there (another
 * tenant's job, a daemon running where it should not). Parts of the lab add
 * their own rows (the orchestrator's pool workers).
 */
import { fail, type CommandResult } from './command-types';
import type { AppHost } from './app-runtime/app-host';

export interface ProcRow {
  pid: number;
  ppid: number;
  user: string;
  rssKiB: number;
  startedAt: Date;
  args: string;
}

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

/** init, the running units' main processes and the host's other processes. */
export function hostRows(host: AppHost, others: readonly OtherProcess[]): ProcRow[] {
  const out: ProcRow[] = [{ pid: 1, ppid: 0, user: 'root', rssKiB: 13_312, startedAt: host.lab.state.bootedAt, args: '/sbin/init' }];
  for (const u of host.units.values()) {
    const s = u.status();
    if (!s.installed || s.mainPid === 0) continue;
    out.push({ pid: s.mainPid, ppid: 1, user: 'root', rssKiB: Math.round(u.def.memoryMiB * 1024), startedAt: s.since ?? new Date(), args: u.def.execStart });
  }
  for (const o of others.filter((x) => x.alive && x.nodeId === host.nodeId)) {
    out.push({ pid: o.pid, ppid: 1, user: o.user, rssKiB: Math.round(o.rssMiB * 1024), startedAt: o.startedAt, args: o.args });
  }
  return out;
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
export function ps(processes: readonly ProcRow[], argv: readonly string[]): CommandResult {
  // procps takes bundled short options (`-eo FORMAT`, `-ep PID`): spread them out, the one taking a value last.
  const args = argv.flatMap((a) => (/^-[eA]+[op]?$/.test(a) && a.length > 2 ? [...a.slice(1)].map((c) => `-${c}`) : [a]));
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
  const selected = [...processes].sort((a, b) => a.pid - b.pid).filter((r) => all || pids!.includes(r.pid));
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
