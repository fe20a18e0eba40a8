import { roleErrorsQuery, serviceErrorsQuery } from '../../../capabilities/triage/requests';
import { HOST_ROLES } from '../../../domain/host-roles';
import type { LogEvent, Span } from '../../../domain/incident-evidence';

export interface UncorrelatedSearch {
  queries: string[];
  startMs: number;
  endMs: number;
  why: string;
}

const isFailing = (e: LogEvent) => e.level === 'error' || e.level === 'fatal';

/**
 * Where to look for failures that lost their correlation_id:
 *   - with correlated failures: the failing services, `windowMs` before the first one
 *     (a failure that lost the id would otherwise pass for a downstream one);
 *   - with correlated lines but no failure among them: every role, around those lines
 *     (the request was seen, its failure was not: it may have been logged without the id).
 * Nothing to look behind, or a window of 0: no search.
 */
export function uncorrelatedSearch(events: readonly LogEvent[], spans: readonly Span[], windowMs: number, notBeforeMs: number): UncorrelatedSearch | null {
  if (windowMs === 0) return null;
  const failing = [
    ...events.filter(isFailing).map((e) => ({ at: e.ts, service: e.service })),
    ...spans.filter((s) => s.status === 'error').map((s) => ({ at: s.start, service: s.service })),
  ];
  if (failing.length) {
    const firstMs = Math.min(...failing.map((f) => Date.parse(f.at)));
    const services = [...new Set(failing.map((f) => f.service))].sort();
    return {
      queries: services.map(serviceErrorsQuery),
      startMs: Math.max(notBeforeMs, firstMs - windowMs),
      endMs: firstMs + 1,
      why: `before the first failure, on ${services.join(', ')}`,
    };
  }
  const seen = [...events.map((e) => Date.parse(e.ts)), ...spans.map((s) => Date.parse(s.start))];
  if (seen.length === 0) return null;
  return {
    queries: HOST_ROLES.map(roleErrorsQuery),
    startMs: Math.max(notBeforeMs, Math.min(...seen) - windowMs),
    endMs: Math.max(...seen) + windowMs,
    why: 'around the request, on every role: none of its correlated lines is a failure',
  };
}
