/**
 * Every incident of seed 000's catalogue, injected into the lab's Loki and Tempo and
 * read back as the runbook reads it (the seed's LogQL queries, the trace, the
 * failing services' uncorrelated lines), is placed on the role that failed first,
 * with the seed's failure class; evidence without host_role or correlation_id is an
 * observability gap.
 */
import type { LogEvent } from '../../../domain/incident-evidence';
import { decideTriage } from '../../../domain/incident-triage';
import type { StepContext } from '../../../domain/step-context';
import { INCIDENT_SCENARIOS } from '../../../lab/observability/incident-scenarios';
import { connectStack, type Stack } from '../../../test/support/harness';
import { uncorrelatedSearch } from '../policies/uncorrelated-search';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

const ctx = (correlationId: string): StepContext => ({
  workflow_id: `incident-triage/${correlationId}`,
  run_id: 'classification',
  runbook: 'incident-triage',
  correlation_id: correlationId,
  step: 'classification',
  idempotency_key: `classification/${correlationId}`,
});

/** The workflow's reads and decision for one incident, through the worker's real activities, without Temporal in between. */
async function triage(correlationId: string, traceId: string | undefined) {
  const acts = stack.activities();
  const startMs = Date.now() - 3_600_000;
  const { events } = await acts.queryCorrelatedLogs(ctx(correlationId), correlationId, startMs, Date.now(), 1000);
  const spans = traceId ? await acts.readTrace(ctx(correlationId), traceId) : [];
  const search = uncorrelatedSearch(events, spans, 120_000, startMs);
  const uncorrelated: LogEvent[] = search ? await acts.queryUncorrelatedErrors(ctx(correlationId), search.queries, search.startMs, search.endMs, 1000) : [];
  return decideTriage(correlationId, [...events, ...uncorrelated], spans);
}

test.each(INCIDENT_SCENARIOS.map((s) => [s.id, s]))('%s: the first failing role and the seed failure class', async (_id, scenario) => {
  const incident = await stack.lab.injectIncident({ scenario: scenario.id });
  const decision = await triage(incident.correlation_id, incident.trace_id);
  expect({ outcome: decision.outcome, boundary: decision.first_failing_boundary, cls: decision.failure_class?.name }).toEqual({
    outcome: 'boundary_identified',
    boundary: scenario.first_failing_role,
    cls: scenario.failure_class,
  });
});

test('the chain with host_role missing on the failing role: an observability gap naming the services to fix, the usual role only as a lead', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'chain-registry-controller-worker', omit: ['host_role'] });
  const decision = await triage(incident.correlation_id, incident.trace_id);
  expect(decision).toMatchObject({ outcome: 'observability_gap', first_failing_boundary: null });
  expect(decision.gaps.find((g) => g.missing === 'host_role')?.follow_up).toContain('add host_role');
});

test('the chain with correlation_id dropped past the API: the failure found only by its service and time is an observability gap', async () => {
  const incident = await stack.lab.injectIncident({ scenario: 'chain-registry-controller-worker', omit: ['correlation_id'] });
  const decision = await triage(incident.correlation_id, undefined);
  expect(decision.outcome).toBe('observability_gap');
  expect(decision.gaps.map((g) => g.missing)).toContain('correlation_id');
});
