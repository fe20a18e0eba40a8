/**
 * Which part of a node's kernel log a run reads. A long-uptime host has
 * megabytes of kernel messages; reading "the whole boot" and cutting at the
 * output cap drops the newest lines, which are the ones that matter. So the
 * engine asks journalctl for NVRM lines only, newest first kept (-n), and only
 * since what the node's last completed remediation already handled (same boot).
 */
import type { KernelXidEvent } from '../../domain/gpu-observations';

/** What a completed remediation handled: Xid lines up to `through` in boot `boot_id`. */
export interface KernelLogCursor {
  boot_id: string;
  /** journalctl short-iso-precise timestamp of the newest Xid line handled. */
  through: string;
}

/** journalctl built without PCRE2 refuses --grep; the engine then reads without it. */
export function grepUnsupported(stderr: string): boolean {
  return /pattern matching support|--grep.*not supported/i.test(stderr);
}

/** "2026-11-22T10:15:30.123456+0000" → microseconds since the epoch; undefined when not that shape. */
export function journalTimestampMicros(ts: string): number | undefined {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d{1,6}))?(Z|[+-]\d{2}:?\d{2})$/.exec(ts.trim());
  if (!m) return undefined;
  const [, whole, fraction = '', zone] = m;
  const offset = zone === 'Z' ? 'Z' : `${zone!.slice(0, 3)}:${zone!.slice(-2)}`;
  const ms = Date.parse(`${whole}${offset}`);
  if (!Number.isFinite(ms)) return undefined;
  return ms * 1000 + Number(fraction.padEnd(6, '0'));
}

/** journalctl --since value for a cursor: "@<seconds>.<micros>" (inclusive; the caller drops the cursor line itself). */
export function sinceArgument(through: string): string | undefined {
  const micros = journalTimestampMicros(through);
  if (micros === undefined) return undefined;
  return `@${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
}

/** Xid events strictly newer than the cursor; events without a usable timestamp are kept (fail open to "look at it"). */
export function newerThan(events: KernelXidEvent[], through: string | undefined): KernelXidEvent[] {
  const limit = through === undefined ? undefined : journalTimestampMicros(through);
  if (limit === undefined) return events;
  return events.filter((e) => {
    const at = e.timestamp === undefined ? undefined : journalTimestampMicros(e.timestamp);
    return at === undefined || at > limit;
  });
}

/** The newest timestamp among the events, or the previous cursor's when there are none. */
export function newestTimestamp(events: KernelXidEvent[], previous?: string): string | undefined {
  let best = previous;
  let bestAt = previous === undefined ? -Infinity : (journalTimestampMicros(previous) ?? -Infinity);
  for (const e of events) {
    const at = e.timestamp === undefined ? undefined : journalTimestampMicros(e.timestamp);
    if (at !== undefined && at > bestAt) {
      best = e.timestamp;
      bestAt = at;
    }
  }
  return best;
}
