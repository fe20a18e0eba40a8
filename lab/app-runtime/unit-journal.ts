/**
 * The system journal of one host for its services (the kernel log lives in
 * kernel-log.ts): entries written by a unit's processes and by systemd about the
 * unit, as `journalctl -u` shows them. journald rotates: only the newest
 * MAX_ENTRIES are kept.
 */
import { JOURNAL_FORMATS, type JournalFormat } from '../kernel-log';

export interface JournalEntry {
  /** Microseconds since the epoch. */
  us: number;
  /** The unit the entry belongs to ("gpuaas-node-agent.service"). */
  unit: string;
  /** SYSLOG_IDENTIFIER: the program ("gpuaas-node-agent") or "systemd". */
  ident: string;
  pid: number;
  message: string;
}

const MAX_ENTRIES = 50_000;

export class UnitJournal {
  private entries: JournalEntry[] = [];
  private lastUs = 0;

  constructor(readonly hostname: string) {}

  /** Appends one entry at `at` (never before the previous one: journald's clock is monotonic per boot). */
  write(unit: string, ident: string, pid: number, message: string, at = new Date()): JournalEntry {
    const entry = { us: Math.max(at.getTime() * 1000, this.lastUs + 1), unit, ident, pid, message };
    this.lastUs = entry.us;
    this.entries.push(entry);
    if (this.entries.length > MAX_ENTRIES + 1000) this.entries.splice(0, this.entries.length - MAX_ENTRIES);
    return entry;
  }

  /** Entries written before the lab started (a host's history), oldest first; they go before everything else. */
  seedHistory(entries: readonly Omit<JournalEntry, 'us'>[], fromUs: number, toUs: number): void {
    const span = Math.max(1, toUs - fromUs);
    const seeded = entries.map((e, i) => ({ ...e, us: fromUs + Math.floor((span * (i + 1)) / (entries.length + 1)) }));
    this.entries = [...seeded, ...this.entries];
    this.lastUs = Math.max(this.lastUs, seeded[seeded.length - 1]?.us ?? 0);
  }

  /** Every entry of the given units, oldest first. */
  forUnits(units: ReadonlySet<string>): JournalEntry[] {
    return this.entries.filter((e) => units.has(e.unit));
  }

  clear(): void {
    this.entries = [];
    this.lastUs = 0;
  }
}

export type UnitJournalFormat = JournalFormat | 'cat';

/** One entry as journalctl prints it: "Apr 08 10:00:00 dev-gpu-1 gpuaas-node-agent[1234]: message". */
export function formatEntry(format: UnitJournalFormat, hostname: string | null, e: JournalEntry): string {
  if (format === 'cat') return `${e.message}\n`;
  const host = hostname === null ? '' : ` ${hostname}`;
  return `${JOURNAL_FORMATS[format](e.us)}${host} ${e.ident}[${e.pid}]: ${e.message}\n`;
}
