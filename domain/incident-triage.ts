/**
 * Seed 000's correlation-first triage as a pure decision: from the log events
 * and spans found for one correlation_id, the first failing boundary (the
 * earliest failure in causal, then time, order), its failure class, the
 * downstream impact on other roles kept apart, single- or cross-host, and what
 * evidence was missing. Never "environment flaky": the outcome is a boundary,
 * an observability gap with its follow-up, or inconclusive with what would
 * decide it.
 */
import { classify, RECOVERY_GUIDANCE, SERVICE_ROLES } from './failure-classes';
import type { HostRole } from './host-roles';
import type { LogEvent, Span } from './incident-evidence';

export const TRIAGE_OUTCOMES = ['boundary_identified', 'observability_gap', 'inconclusive'] as const;
export type TriageOutcome = (typeof TRIAGE_OUTCOMES)[number];

/** One failing log line or error span, with where its role came from. */
export interface Failure {
  source: 'log' | 'span';
  at: string;
  service: string;
  /** The role the evidence names; absent when it names none. */
  host_role?: HostRole;
  host_name?: string;
  node_id?: string;
  correlation_id?: string;
  /** The exact failing action: the span's name, or the log line's message. */
  action: string;
  component?: string;
  error?: string;
  span_id?: string;
}

export interface ImpactOnRole {
  role: HostRole;
  hosts: string[];
  first_at: string;
  failures: number;
  classes: string[];
}

export interface ObservabilityGap {
  missing: 'host_role' | 'correlation_id' | 'evidence';
  services: string[];
  /** The follow-up item to file, naming what is missing where. */
  follow_up: string;
}

export interface TriageDecision {
  outcome: TriageOutcome;
  first_failure: Failure | null;
  first_failing_boundary: HostRole | null;
  /** When the deciding evidence lacks its role: the role its service normally has (a lead, not a diagnosis). */
  suspected_boundary: HostRole | null;
  failure_class: { id: string; name: string } | null;
  downstream_impact: ImpactOnRole[];
  scope: 'single_host' | 'cross_host' | null;
  gaps: ObservabilityGap[];
  recovery_guidance: readonly string[];
  /** Inconclusive only: what would decide it. */
  would_decide: string | null;
  /** Why, in one line, for the report and the UI. */
  summary: string;
}

const isFailingLog = (e: LogEvent) => e.level === 'error' || e.level === 'fatal';
const ms = (iso: string) => Date.parse(iso);

function fromLog(e: LogEvent): Failure {
  return {
    source: 'log',
    at: e.ts,
    service: e.service,
    host_role: e.host_role,
    host_name: e.host_name,
    node_id: e.node_id,
    correlation_id: e.correlation_id,
    action: e.msg,
    component: e.component,
    error: e.error,
  };
}

/** A span of the incident's own trace belongs to its correlation even when it does not repeat the id. */
function fromSpan(s: Span, correlationId: string): Failure {
  return {
    source: 'span',
    at: s.start,
    service: s.service,
    host_role: s.host_role,
    host_name: s.host_name,
    node_id: s.attributes['node_id'],
    correlation_id: s.attributes['correlation_id'] ?? correlationId,
    action: s.status_message ? `${s.name}: ${s.status_message}` : s.name,
    component: s.attributes['component'],
    error: s.attributes['error'],
    span_id: s.span_id,
  };
}

/**
 * Error spans none of whose descendants failed: the causes. An error span with a
 * failed child is that child's consequence (a request fails because its call did).
 */
export function causalRoots(spans: readonly Span[]): Span[] {
  const failed = spans.filter((s) => s.status === 'error');
  const parentOf = new Map(spans.map((s) => [s.span_id, s.parent_span_id]));
  const hasFailedDescendant = new Set<string>();
  for (const s of failed) {
    for (let p = s.parent_span_id; p !== undefined; p = parentOf.get(p)) {
      if (hasFailedDescendant.has(p)) break;
      hasFailedDescendant.add(p);
    }
  }
  return failed.filter((s) => !hasFailedDescendant.has(s.span_id));
}

/** Oldest first; at the same instant the log line goes first: it is the same event, told with its error code. */
const byTime = (a: Failure, b: Failure) => ms(a.at) - ms(b.at) || (a.source === b.source ? 0 : a.source === 'log' ? -1 : 1);

/** The role of a failure as its evidence says, else the one its service normally has. */
const roleOf = (f: Failure): HostRole | undefined => f.host_role ?? SERVICE_ROLES[f.service];

function impactOn(failures: Failure[], first: Failure, boundary: HostRole): ImpactOnRole[] {
  const byRole = new Map<HostRole, Failure[]>();
  for (const f of failures) {
    const role = roleOf(f);
    if (f === first || !role || role === boundary) continue;
    byRole.set(role, [...(byRole.get(role) ?? []), f]);
  }
  return [...byRole.entries()]
    .map(([role, fs]) => ({
      role,
      hosts: [...new Set(fs.map((f) => f.host_name).filter((h): h is string => !!h))].sort(),
      first_at: fs.map((f) => f.at).sort((a, b) => ms(a) - ms(b))[0]!,
      failures: fs.length,
      classes: [...new Set(fs.map((f) => classify(role, f)?.id).filter((c): c is string => !!c))].sort(),
    }))
    .sort((a, b) => ms(a.first_at) - ms(b.first_at));
}

function gapsIn(failures: Failure[]): ObservabilityGap[] {
  const gaps: ObservabilityGap[] = [];
  const without = (pick: (f: Failure) => unknown) => [...new Set(failures.filter((f) => !pick(f)).map((f) => f.service))].sort();
  const noRole = without((f) => f.host_role);
  if (noRole.length)
    gaps.push({
      missing: 'host_role',
      services: noRole,
      follow_up: `add host_role to the logs and spans of ${noRole.join(', ')}: their failures cannot be placed on a host role from the evidence`,
    });
  const noCorrelation = without((f) => f.correlation_id);
  if (noCorrelation.length)
    gaps.push({
      missing: 'correlation_id',
      services: noCorrelation,
      follow_up: `carry correlation_id through ${noCorrelation.join(', ')}: their failures were found only through the trace or the time window`,
    });
  return gaps;
}

/**
 * Decides the incident from `logs` (found by correlation_id, plus any lines of the
 * failing services in the window that lack it) and `spans` (the trace, when there is one).
 */
export function decideTriage(correlationId: string, logs: readonly LogEvent[], spans: readonly Span[]): TriageDecision {
  const none = { first_failure: null, first_failing_boundary: null, suspected_boundary: null, failure_class: null, downstream_impact: [], scope: null };
  if (logs.length === 0 && spans.length === 0) {
    const gap: ObservabilityGap = {
      missing: 'evidence',
      services: [],
      follow_up: `no log line or span carries correlation_id ${correlationId}: make every service log it (and propagate it into traces) before this can be triaged`,
    };
    return { ...none, outcome: 'observability_gap', gaps: [gap], recovery_guidance: [], would_decide: null, summary: gap.follow_up };
  }

  const logFailures = logs.filter(isFailingLog).map(fromLog);
  const causes = causalRoots(spans).map((s) => fromSpan(s, correlationId));
  const consequences = spans.filter((s) => s.status === 'error' && !causes.some((c) => c.span_id === s.span_id)).map((s) => fromSpan(s, correlationId));
  const failures = [...causes, ...logFailures].sort(byTime);
  const all = [...failures, ...consequences];
  const gaps = gapsIn(all);
  if (failures.length === 0) {
    const window = [...logs.map((l) => l.ts), ...spans.map((s) => s.start)].sort((a, b) => ms(a) - ms(b));
    return {
      ...none,
      outcome: 'inconclusive',
      gaps,
      recovery_guidance: [],
      would_decide: `no error line or failed span for ${correlationId} between ${window[0]} and ${window[window.length - 1]}: the exact failing action from the error envelope, its trace_id, or a wider time window would decide it`,
      summary: `${logs.length} log line(s) and ${spans.length} span(s) for ${correlationId}, none of them a failure`,
    };
  }

  const first = failures[0]!;
  // Two causes at the same instant on different roles, with no trace to order them: nothing decides which came first.
  const tied = failures.filter((f) => ms(f.at) === ms(first.at) && roleOf(f) && roleOf(f) !== roleOf(first));
  if (tied.length && spans.length === 0) {
    return {
      ...none,
      outcome: 'inconclusive',
      gaps,
      recovery_guidance: [],
      would_decide: `failures on ${[roleOf(first), ...tied.map(roleOf)].join(' and ')} at the same instant (${first.at}) with no trace linking them: a trace_id would order them`,
      summary: `first failures tie across roles at ${first.at}`,
    };
  }

  const boundary = first.host_role;
  const suspected = roleOf(first) ?? null;
  const impact = impactOn(all, first, boundary ?? suspected ?? first.host_role!);
  const hosts = new Set([first.host_name, ...impact.flatMap((i) => i.hosts)].filter((h): h is string => !!h));
  const scope = hosts.size > 1 ? 'cross_host' : 'single_host';
  if (!boundary || !first.correlation_id) {
    const missing = [!boundary && 'host_role', !first.correlation_id && 'correlation_id'].filter(Boolean).join(' and ');
    return {
      outcome: 'observability_gap',
      first_failure: first,
      first_failing_boundary: null,
      suspected_boundary: suspected,
      failure_class: null,
      downstream_impact: impact,
      scope,
      gaps,
      recovery_guidance: [],
      would_decide: null,
      summary: `the first failure (${first.service}: ${first.action}) has no ${missing} in its evidence${suspected ? `; ${first.service} normally runs on ${suspected}` : ''}`,
    };
  }

  const cls = classify(boundary, first);
  return {
    outcome: 'boundary_identified',
    first_failure: first,
    first_failing_boundary: boundary,
    suspected_boundary: null,
    failure_class: cls ? { id: cls.id, name: cls.name } : null,
    downstream_impact: impact,
    scope,
    gaps,
    recovery_guidance: RECOVERY_GUIDANCE[boundary],
    would_decide: null,
    summary:
      `first failing boundary ${boundary}${cls ? ` (${cls.name})` : ''}: ${first.service} on ${first.host_name ?? 'an unnamed host'} at ${first.at}: ${first.action}` +
      (impact.length ? `; downstream: ${impact.map((i) => `${i.role} (${i.failures})`).join(', ')}` : ''),
  };
}
