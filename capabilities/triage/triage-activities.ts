import { ApplicationFailure } from '@temporalio/common';
import { parseProcessList, type HostProcess } from '../../domain/boundary-validation';
import { ErrorType } from '../../domain/errors';
import type { LogEvent, Span } from '../../domain/incident-evidence';
import type { StepContext } from '../../domain/step-context';
import type { HostAccess } from '../host/host-access';
import type { LokiClient } from '../observability-query/loki-client';
import type { TempoClient } from '../observability-query/tempo-client';
import { processListCommand } from './commands';
import { correlationQueries, type NamedQuery } from './requests';

/** A Loki (or Loki-compatible) query_range reader. */
export interface LogSource {
  query(logql: string, range: { startMs: number; endMs: number; limit: number }): Promise<LogEvent[]>;
}

/** A Tempo (or Tempo-compatible) trace-by-id reader; an unknown trace is an empty list. */
export interface TraceSource {
  trace(traceId: string): Promise<Span[]>;
}

export interface CorrelatedLogs {
  queries: (NamedQuery & { lines: number })[];
  /** Every line found, once, oldest first. */
  events: LogEvent[];
}

/** A source the worker was not given: the triage fails typed and non-retryable, naming the setting. */
function unconfigured(setting: string): never {
  throw ApplicationFailure.create({
    type: ErrorType.ObservabilityApiError,
    message: `${setting} is not set on this worker: incident triage has nowhere to read its evidence`,
    nonRetryable: true,
  });
}

/** The lab's or a fleet's Loki as a LogSource. */
export function lokiLogSource(loki: LokiClient): LogSource {
  return { query: (logql, r) => loki.queryRange({ query: logql, start: new Date(r.startMs), end: new Date(r.endMs), limit: r.limit }) };
}

/** Tempo as a TraceSource: a trace Tempo no longer has is an empty trace (the report shows 0 spans), not a failed run. */
export function tempoTraceSource(tempo: TempoClient): TraceSource {
  return {
    async trace(traceId) {
      try {
        return await tempo.traceById(traceId);
      } catch (err) {
        if (err instanceof ApplicationFailure && err.type === ErrorType.NotFound) return [];
        throw err;
      }
    },
  };
}

const key = (e: LogEvent) => `${e.ts}\u0000${e.service}\u0000${e.host_name ?? ''}\u0000${e.msg}`;

/** Read-only evidence for incident triage: logs by correlation id, the trace, and each host's processes. */
export function createTriageActivities(deps: { logs?: LogSource; traces?: TraceSource; hosts: HostAccess }) {
  const logs = (): LogSource => deps.logs ?? unconfigured('LOKI_URL');
  const traces = (): TraceSource => deps.traces ?? unconfigured('TEMPO_URL');
  return {
    /** Seed 000's four queries for one correlation_id; a line two queries both return is kept once. */
    async queryCorrelatedLogs(_ctx: StepContext, correlationId: string, startMs: number, endMs: number, limit: number): Promise<CorrelatedLogs> {
      const queries = correlationQueries(correlationId);
      const results = await Promise.all(queries.map((q) => logs().query(q.logql, { startMs, endMs, limit })));
      const events = new Map<string, LogEvent>();
      for (const found of results) for (const e of found) events.set(key(e), e);
      return {
        queries: queries.map((q, i) => ({ ...q, lines: results[i]!.length })),
        events: [...events.values()].sort((a, b) => Date.parse(a.ts) - Date.parse(b.ts)),
      };
    },

    /** The lines these queries find in the window that carry no correlation_id: evidence that lost it. */
    async queryUncorrelatedErrors(_ctx: StepContext, queries: string[], startMs: number, endMs: number, limit: number): Promise<LogEvent[]> {
      const found = await Promise.all(queries.map((q) => logs().query(q, { startMs, endMs, limit })));
      return found.flat().filter((e) => !e.correlation_id);
    },

    async readTrace(_ctx: StepContext, traceId: string): Promise<Span[]> {
      return traces().trace(traceId);
    },

    /** `ps` on the host, read only (any role). */
    async readHostProcesses(ctx: StepContext): Promise<HostProcess[]> {
      const res = await deps.hosts.run(ctx, 'read_processes', processListCommand(), { evidenceSuffix: 'processes' });
      if (res.exit_code !== 0) {
        // The same ps fails the same way again: say so once, and the triage records the host as not validated.
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `ps failed on ${ctx.node_id} (exit ${res.exit_code}): ${res.stderr.slice(0, 300)}`,
          nonRetryable: true,
        });
      }
      return parseProcessList(res.stdout);
    },
  };
}

export type TriageActivities = ReturnType<typeof createTriageActivities>;
