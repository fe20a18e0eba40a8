/**
 * The lab's central log store, as Loki holds it: entries of streams, each
 * stream named by its labels (service, host_role, host_name), each entry a
 * nanosecond timestamp and one line. Services write structured JSON lines; a
 * line is kept as written, so a query's `| json` parses what a real fleet's
 * would. Bounded: past the cap the oldest entries go first.
 */
import type { HostRole } from '../../domain/host-roles';

/** The labels a lab stream carries; host_role and host_name are left out when the producer did not set them. */
export interface StreamLabels {
  service: string;
  host_role?: HostRole;
  host_name?: string;
}

export interface LogEntry {
  /** Unix epoch in nanoseconds. */
  tsNs: bigint;
  labels: Record<string, string>;
  line: string;
}

/** The fields a lab service writes into its JSON line (the ones triage reads, plus whatever else it knows). */
export interface LogFields {
  level: 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  msg: string;
  correlation_id?: string;
  trace_id?: string;
  component?: string;
  error?: string;
  node_id?: string;
  app_slug?: string;
  [key: string]: string | number | boolean | undefined;
}

export const DEFAULT_LOG_CAP = 20_000;

export function toNs(at: Date): bigint {
  return BigInt(at.getTime()) * 1_000_000n;
}

export class LabLogStore {
  private entries: LogEntry[] = [];

  constructor(readonly cap = DEFAULT_LOG_CAP) {
    if (!Number.isInteger(cap) || cap < 1) throw new RangeError(`log cap must be a positive integer, got ${cap}`);
  }

  /** One structured line: `ts` and the fields, undefined ones left out (a missing field stays missing). */
  write(labels: StreamLabels, fields: LogFields, at = new Date()): void {
    const line: Record<string, unknown> = { ts: at.toISOString() };
    for (const [k, v] of Object.entries(fields)) if (v !== undefined) line[k] = v;
    this.writeLine(labels, JSON.stringify(line), at);
  }

  /** A line as some producer wrote it, JSON or not. */
  writeLine(labels: StreamLabels, line: string, at = new Date()): void {
    const streamLabels: Record<string, string> = { service: labels.service };
    if (labels.host_role) streamLabels.host_role = labels.host_role;
    if (labels.host_name) streamLabels.host_name = labels.host_name;
    this.append({ tsNs: toNs(at), labels: streamLabels, line });
  }

  /** An entry as a pushing client sent it: its own labels and timestamp (Loki's push API). */
  append(entry: LogEntry): void {
    this.entries.push(entry);
    if (this.entries.length > this.cap) this.entries.splice(0, this.entries.length - this.cap);
  }

  get size(): number {
    return this.entries.length;
  }

  all(): readonly LogEntry[] {
    return this.entries;
  }

  clear(): void {
    this.entries = [];
  }
}
