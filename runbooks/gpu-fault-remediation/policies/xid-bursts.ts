/**
 * Groups kernel Xid lines into bursts: the Xids one fault produces on one GPU
 * (48 → 171 → 63 → 154, 79 → 154, 62 → 45 → 119 → 154). Like NVIDIA's Fleet
 * Intelligence, a burst on a GPU lasts until about three minutes pass without a
 * new Xid on that GPU. Pure: timestamps are read from the text as printed, with
 * calendar arithmetic done here rather than through Date.
 */
import type { KernelXidEvent } from '../../../domain/gpu-observations';
import { normalizePciBusId } from '../../../domain/pci';

/** A burst ends after this many seconds without a new Xid on the same GPU. */
export const XID_BURST_WINDOW_SECONDS = 180;

/**
 * A timestamp as seconds on a clock. Only readings of the same clock can be
 * compared: seconds since boot restart at every boot, syslog prints no year,
 * and a time without an offset is local time.
 */
export interface XidClockReading {
  clock: 'utc' | 'local' | 'local_no_year' | 'boot';
  seconds: number;
}

export interface XidBurst {
  /** Normalised lowercase "dddd:bb:dd". */
  pci_bus_id: string;
  /** The burst's Xid events in log order. */
  events: KernelXidEvent[];
}

const MONTHS: Record<string, number> = {
  jan: 1,
  feb: 2,
  mar: 3,
  apr: 4,
  may: 5,
  jun: 6,
  jul: 7,
  aug: 8,
  sep: 9,
  oct: 10,
  nov: 11,
  dec: 12,
};
const DAYS_BEFORE_MONTH = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const DAY = 86_400;

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Days from 0001-01-01 to the given date (proleptic Gregorian). */
function daysSinceYearOne(year: number, month: number, day: number): number {
  const y = year - 1;
  const leapDays = Math.floor(y / 4) - Math.floor(y / 100) + Math.floor(y / 400);
  return y * 365 + leapDays + DAYS_BEFORE_MONTH[month - 1]! + (month > 2 && isLeap(year) ? 1 : 0) + day - 1;
}
/**
 * Counted from 1970 so that seconds stay near 2e9, where a double still
 * resolves the microseconds journalctl prints (from year one it would not).
 */
const UNIX_DAY_ZERO = daysSinceYearOne(1970, 1, 1);
function dayNumber(year: number, month: number, day: number): number {
  return daysSinceYearOne(year, month, day) - UNIX_DAY_ZERO;
}

function civilSeconds(year: number, month: number, day: number, h: number, m: number, s: number): number | null {
  if (month < 1 || month > 12 || day < 1 || day > 31 || h > 23 || m > 59 || s > 60) return null;
  return dayNumber(year, month, day) * DAY + h * 3600 + m * 60 + s;
}

/** journalctl -o short-iso / RFC 3339: 2026-11-22T10:15:30+0000, 2026-11-22T10:15:30.517204+00:00, ...Z */
const ISO_RE = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;
/** dmesg -T: "Sun Nov 22 10:15:31 2026" (local time). */
const DMESG_T_RE = /^[A-Za-z]{3}\s+([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})\s+(\d{4})$/;
/** syslog / journalctl short(-precise): "Nov  2 09:01:07", "Nov 22 10:15:30.123456" (local time, no year). */
const SYSLOG_RE = /^([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?$/;
/** dmesg: "5107.644349" seconds since boot. */
const BOOT_RE = /^(\d+(?:\.\d+)?)$/;
/** A year with a 29 February, so syslog dates without a year all exist. */
const NO_YEAR_BASE = 2000;

/** The timestamp as a clock reading, or null for a form this does not know. */
export function readXidTimestamp(timestamp: string): XidClockReading | null {
  const ts = timestamp.trim();
  let m = ISO_RE.exec(ts);
  if (m) {
    const base = civilSeconds(+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!);
    if (base === null) return null;
    const seconds = base + (m[7] ? Number(`0.${m[7]}`) : 0);
    const zone = m[8];
    if (zone === undefined) return { clock: 'local', seconds };
    if (zone.toUpperCase() === 'Z') return { clock: 'utc', seconds };
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offset = sign * (Number(digits.slice(0, 2)) * 3600 + Number(digits.slice(2, 4)) * 60);
    return { clock: 'utc', seconds: seconds - offset };
  }
  m = DMESG_T_RE.exec(ts);
  if (m) {
    const month = MONTHS[m[1]!.toLowerCase()];
    const seconds = month ? civilSeconds(+m[6]!, month, +m[2]!, +m[3]!, +m[4]!, +m[5]!) : null;
    return seconds === null ? null : { clock: 'local', seconds };
  }
  m = SYSLOG_RE.exec(ts);
  if (m) {
    const month = MONTHS[m[1]!.toLowerCase()];
    const seconds = month ? civilSeconds(NO_YEAR_BASE, month, +m[2]!, +m[3]!, +m[4]!, +m[5]!) : null;
    return seconds === null ? null : { clock: 'local_no_year', seconds: seconds + (m[6] ? Number(`0.${m[6]}`) : 0) };
  }
  m = BOOT_RE.exec(ts);
  if (m) return { clock: 'boot', seconds: Number(m[1]) };
  return null;
}

/**
 * Seconds from `a` to `b`, or null when the two cannot be compared. Syslog
 * dates carry no year; a step back of more than half a year is read as the
 * turn of the year (Dec 31 → Jan 1).
 */
export function secondsBetween(a: XidClockReading, b: XidClockReading): number | null {
  if (a.clock !== b.clock) return null;
  let gap = b.seconds - a.seconds;
  if (a.clock === 'local_no_year' && gap < -183 * DAY) gap += (isLeap(NO_YEAR_BASE) ? 366 : 365) * DAY;
  return gap;
}

/**
 * Splits the Xids of each GPU into bursts, in log order. A new burst starts when
 * the gap to the previous timestamped Xid of that GPU's burst exceeds the window
 * in either direction (a jump back means a new boot or a reordered log). Lines
 * whose times cannot be compared (no timestamp, unknown form, different clocks)
 * stay in the open burst: without a time there is no evidence of a new fault.
 * Bursts come back ordered by their first line.
 */
export function groupXidBursts(xids: readonly KernelXidEvent[], windowSeconds = XID_BURST_WINDOW_SECONDS): XidBurst[] {
  const bursts: XidBurst[] = [];
  const open = new Map<string, { burst: XidBurst; last: XidClockReading | null }>();
  for (const event of xids) {
    const pci = normalizePciBusId(event.pci_bus_id);
    const time = event.timestamp !== undefined ? readXidTimestamp(event.timestamp) : null;
    const current = open.get(pci);
    const gap = current?.last && time ? secondsBetween(current.last, time) : null;
    if (current && (gap === null || Math.abs(gap) <= windowSeconds)) {
      current.burst.events.push(event);
      if (time) current.last = time;
      continue;
    }
    const burst: XidBurst = { pci_bus_id: pci, events: [event] };
    bursts.push(burst);
    open.set(pci, { burst, last: time });
  }
  return bursts;
}
