/**
 * A Loki entry as the engine reads it: the stream's labels (which, after
 * `| json`, hold the line's fields too) and the line itself, parsed when it is
 * JSON. What neither says stays missing; a line that is not JSON is kept with
 * what its labels say and the raw line as its message.
 */
import { HostRoleSchema } from '../../domain/host-roles';
import { LogEventSchema, type LogEvent, LOG_LEVELS } from '../../domain/incident-evidence';

type Level = (typeof LOG_LEVELS)[number];

const LEVEL_ALIASES: Record<string, Level> = {
  trace: 'debug',
  debug: 'debug',
  info: 'info',
  information: 'info',
  notice: 'info',
  warn: 'warn',
  warning: 'warn',
  error: 'error',
  err: 'error',
  critical: 'fatal',
  crit: 'fatal',
  fatal: 'fatal',
  panic: 'fatal',
  emerg: 'fatal',
  alert: 'fatal',
};

export function normalizeLevel(raw: string | undefined): Level {
  return (raw && LEVEL_ALIASES[raw.toLowerCase()]) || 'info';
}

/** Nanoseconds since the epoch (a decimal string) as RFC 3339 with the nanoseconds kept. */
export function nsToRfc3339(ns: string): string {
  const n = BigInt(ns);
  const ms = n / 1_000_000n;
  const iso = new Date(Number(ms)).toISOString();
  const frac = (n % 1_000_000_000n).toString().padStart(9, '0');
  return `${iso.slice(0, 19)}.${frac}Z`;
}

function parseLine(line: string): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(line);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

export function logEventFromLoki(stream: Record<string, string>, tsNs: string, line: string): LogEvent {
  const fields = parseLine(line);
  const isJson = Object.keys(fields).length > 0;
  /** A stream label first (the producer's own label), then what `| json` extracted beside it, then the line. */
  const pick = (name: string): string | undefined => {
    for (const v of [stream[name], stream[`${name}_extracted`], fields[name]]) {
      if (typeof v === 'string' && v !== '') return v;
      if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    }
    return undefined;
  };
  const role = HostRoleSchema.safeParse(pick('host_role'));
  const msg = pick('msg') ?? pick('message') ?? (isJson ? '' : line);
  const event = {
    ts: nsToRfc3339(tsNs),
    service: stream.service ?? stream.service_name ?? stream.job ?? pick('service') ?? 'unknown',
    host_role: role.success ? role.data : undefined,
    host_name: pick('host_name') ?? stream.hostname ?? stream.host,
    node_id: pick('node_id'),
    correlation_id: pick('correlation_id'),
    trace_id: pick('trace_id'),
    level: normalizeLevel(pick('level') ?? stream.detected_level),
    msg,
    component: pick('component'),
    error: pick('error'),
    app_slug: pick('app_slug'),
  };
  for (const k of Object.keys(event) as (keyof typeof event)[]) if (event[k] === undefined) delete event[k];
  return LogEventSchema.parse(event);
}
