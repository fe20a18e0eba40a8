import { InvalidArgumentError } from 'commander';
import ms from 'ms';
import { UsageError } from './errors';

/** `2s`, `500ms`, `1m`; a bare number is seconds. */
export function parseDuration(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value) ? Number(value) * 1000 : ms(value as ms.StringValue);
  if (typeof n !== 'number' || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`not a duration: ${value} (e.g. 2s, 500ms, 1m)`);
  return n;
}

export function parsePositiveInt(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`not a positive integer: ${value}`);
  return Number(value);
}

export function parseNonNegativeInt(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`not a non-negative integer: ${value}`);
  return Number(value);
}

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/**
 * `key=value` of `--set`: the value is JSON when it reads as a number, boolean, null,
 * array or object (`xid=48`, `gpu_index=3`), and a string otherwise (`drain_timeout=5s`).
 * Quote it as JSON to force a string: `source="123"`. A drill's time placeholder
 * (`window_end={now+2h}`) stays a string. Parsed in the action, not by
 * commander, so its errors are UsageErrors.
 */
export function parseAssignment(assignment: string): [string, unknown] {
  const eq = assignment.indexOf('=');
  if (eq <= 0) throw new UsageError(`--set expects key=value, got ${JSON.stringify(assignment)}`);
  const key = assignment.slice(0, eq).trim();
  const raw = assignment.slice(eq + 1);
  // A drill's time placeholder ({now+2h}) is a string, not JSON gone wrong.
  if (/^\{now[^{}"]*\}$/.test(raw.trim())) return [key, raw];
  if (/^(-?\d+(\.\d+)?([eE][+-]?\d+)?|true|false|null|\[.*\]|\{.*\}|".*")$/s.test(raw.trim())) {
    try {
      return [key, JSON.parse(raw)];
    } catch {
      throw new UsageError(`--set ${key}: the value looks like JSON but is not: ${raw}`);
    }
  }
  return [key, raw];
}
