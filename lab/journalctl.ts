/**
 * `journalctl -k` over the simulated kernel log, with the options the engine uses:
 * -b, -o (short, short-precise, short-iso, short-iso-precise), --since/--until,
 * --grep (smart case), -n/--lines, -r, -q, --no-pager, --no-hostname. Exit status
 * and "-- No entries --" follow systemd: with --grep and no match the exit status
 * is 1 (since systemd 243); -q only suppresses the marker line.
 */
import { answer, DURATIONS, fail, ok, type CommandPlan } from './command-types';
import type { SimHostState } from './gpu-host-state';
import { formatLine, JOURNAL_FORMATS, type JournalFormat, type KernelJournal, type KernelLine } from './kernel-log';

interface JournalQuery {
  kernel: boolean;
  boot: string;
  format: JournalFormat;
  quiet: boolean;
  hostname: boolean;
  reverse: boolean;
  sinceUs?: number;
  untilUs?: number;
  grep?: RegExp;
  /** Newest N entries; undefined = all. */
  lines?: number;
}

type Parsed = { ok: true; query: JournalQuery } | { ok: false; stderr: string };

/** Options that take a value: the long name and the short letter. */
const VALUE_OPTIONS: Record<string, string> = {
  '-o': '--output',
  '-S': '--since',
  '-U': '--until',
  '-g': '--grep',
};

const BOOT_DESCRIPTOR = /^(-?\d+|[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;

/** Splits clusters of flag letters ("-kq", "-kb0") the way getopt reads them. */
function expandClusters(args: readonly string[]): string[] {
  const out: string[] = [];
  for (const a of args) {
    let rest = a;
    while (/^-[kqr][a-zA-Z]/.test(rest)) {
      out.push(rest.slice(0, 2));
      rest = `-${rest.slice(2)}`;
    }
    out.push(rest);
  }
  return out;
}

function parseArgs(rawArgs: readonly string[], now: Date): Parsed {
  const args = expandClusters(rawArgs);
  const q: JournalQuery = { kernel: false, boot: '', format: 'short', quiet: false, hostname: true, reverse: false };
  let grep: string | undefined;
  let caseSensitive: boolean | undefined;
  const bad = (stderr: string): Parsed => ({ ok: false, stderr });
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    // Long options take "--x=v" or "--x v"; short ones "-xv" or "-x v".
    let name = a;
    let value: string | undefined;
    if (a.startsWith('--') && a.includes('=')) {
      name = a.slice(0, a.indexOf('='));
      value = a.slice(a.indexOf('=') + 1);
    } else if (/^-[a-zA-Z].+/.test(a) && !a.startsWith('--')) {
      name = a.slice(0, 2);
      value = a.slice(2);
    }
    const long = VALUE_OPTIONS[name] ?? name;
    const needValue = () => {
      if (value !== undefined) return value;
      const next = args[i + 1];
      if (next === undefined) return undefined;
      i++;
      return next;
    };
    switch (long) {
      case '-k':
      case '--dmesg':
        q.kernel = true;
        break;
      case '-q':
      case '--quiet':
        q.quiet = true;
        break;
      case '--no-pager':
      case '--no-tail':
        break;
      case '--no-hostname':
        q.hostname = false;
        break;
      case '-r':
      case '--reverse':
        q.reverse = true;
        break;
      case '-b':
      case '--boot': {
        // -b's argument is optional; journalctl still takes the next word when it is a boot descriptor.
        if (value !== undefined) q.boot = value;
        else if (args[i + 1] !== undefined && BOOT_DESCRIPTOR.test(args[i + 1] ?? '')) q.boot = args[++i] ?? '';
        else q.boot = '0';
        break;
      }
      case '--output': {
        const v = needValue();
        if (v === undefined) return bad(`journalctl: option '${a}' requires an argument\n`);
        if (!(v in JOURNAL_FORMATS)) return bad(`Unknown output format '${v}'.\n`);
        q.format = v as JournalFormat;
        break;
      }
      case '--since':
      case '--until': {
        const v = needValue();
        if (v === undefined) return bad(`journalctl: option '${a}' requires an argument\n`);
        const us = parseTimestamp(v, now);
        if (us === undefined) return bad(`Failed to parse timestamp: ${v}\n`);
        if (long === '--since') q.sinceUs = us;
        else q.untilUs = us;
        break;
      }
      case '--grep': {
        const v = needValue();
        if (v === undefined) return bad(`journalctl: option '${a}' requires an argument\n`);
        grep = v;
        break;
      }
      case '--case-sensitive':
        caseSensitive = value === undefined ? true : !/^(0|no|false|off)$/i.test(value);
        break;
      case '-n':
      case '--lines': {
        // Optional argument: "-n" alone means 10; "all" means no limit.
        let v = value;
        if (v === undefined && /^(\d+|all)$/.test(args[i + 1] ?? '')) v = args[++i];
        if (v === undefined) q.lines = 10;
        else if (v === 'all') q.lines = undefined;
        else if (/^\d+$/.test(v)) q.lines = Number(v);
        else return bad(`Failed to parse lines '${v}'.\n`);
        break;
      }
      default:
        return bad(
          a.startsWith('--')
            ? `journalctl: unrecognized option '${name}'\n`
            : a.startsWith('-')
              ? `journalctl: invalid option -- '${a.slice(1, 2)}'\n`
              : `lab: journalctl matches (${a}) are not simulated\n`,
        );
    }
  }
  if (grep !== undefined) {
    // journalctl's smart case: an uppercase letter in the pattern makes it case-sensitive.
    const sensitive = caseSensitive ?? /[A-Z]/.test(grep);
    try {
      q.grep = new RegExp(grep, sensitive ? '' : 'i');
    } catch (err) {
      return bad(`Bad pattern "${grep}": ${(err as Error).message}\n`);
    }
  }
  return { ok: true, query: q };
}

/**
 * The --since/--until forms the engine uses: "YYYY-MM-DD[ HH:MM[:SS[.ffffff]]][ UTC]"
 * (these hosts run in UTC, so a bare time is UTC too) and "@<unix seconds>[.fraction]".
 * Also "now", "today" and "yesterday". Microseconds since the epoch, or undefined.
 */
export function parseTimestamp(text: string, now: Date): number | undefined {
  const t = text.trim();
  const epoch = /^@(\d+)(?:\.(\d{1,6})\d*)?$/.exec(t);
  if (epoch) return Number(epoch[1]) * 1_000_000 + Number((epoch[2] ?? '').padEnd(6, '0'));
  const midnight = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  if (t === 'now') return now.getTime() * 1000;
  if (t === 'today') return midnight * 1000;
  if (t === 'yesterday') return (midnight - 86_400_000) * 1000;
  const m = /^(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,6}))?)?)?(?: UTC)?$/.exec(t);
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = ''] = m;
  const ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s));
  const check = new Date(ms);
  // Reject dates that do not exist (2026-02-30) instead of rolling them over.
  if (check.getUTCMonth() !== Number(mo) - 1 || check.getUTCDate() !== Number(d) || Number(h) > 23 || Number(mi) > 59 || Number(s) > 60) return undefined;
  return ms * 1000 + Number(frac.padEnd(6, '0'));
}

function pickBoot(state: SimHostState, boot: string): KernelJournal | undefined {
  if (boot === '' || boot === '0' || boot.replace(/-/g, '') === state.bootId.replace(/-/g, '')) return state.kernelLog;
  if (boot === '-1') return state.previousKernelLog ?? undefined;
  return undefined;
}

function select(journal: KernelJournal, q: JournalQuery): KernelLine[] {
  const out: KernelLine[] = [];
  for (const line of journal.read(q.sinceUs)) {
    if (q.untilUs !== undefined && line.us > q.untilUs) break;
    if (q.grep && !q.grep.test(line.message)) continue;
    out.push(line);
    // Only the newest N are printed; drop older ones as we go to keep memory flat.
    if (q.lines !== undefined && out.length > q.lines * 2 + 1024) out.splice(0, out.length - q.lines);
  }
  const kept = q.lines === undefined ? out : q.lines === 0 ? [] : out.slice(-q.lines);
  return q.reverse ? kept.reverse() : kept;
}

export function journalctl(state: SimHostState, args: readonly string[], now: Date): CommandPlan {
  const parsed = parseArgs(args, now);
  if (!parsed.ok) return answer(DURATIONS.small, fail(1, parsed.stderr));
  const q = parsed.query;
  if (!q.kernel) return answer(DURATIONS.small, fail(1, 'lab: only kernel messages (-k) are simulated\n'));
  const journal = pickBoot(state, q.boot);
  if (!journal) return answer(DURATIONS.small, fail(1, `Data from the specified boot (${q.boot}) is not available: No such boot ID in journal\n`));
  // journalctl reads as it prints: the output is what the log held when it started.
  const lines = select(journal, q);
  const host = q.hostname ? state.hostname : null;
  const parts: string[] = [];
  for (const l of lines) parts.push(formatLine(q.format, host, l));
  let stdout = parts.join('');
  if (lines.length === 0 && !q.quiet) stdout = '-- No entries --\n';
  const exitCode = q.grep && lines.length === 0 ? 1 : 0;
  const mib = Buffer.byteLength(stdout) / (1024 * 1024);
  return answer(DURATIONS.journalctlBase + DURATIONS.journalctlPerMiB * mib, exitCode === 0 ? ok(stdout) : { stdout, stderr: '', exitCode });
}
