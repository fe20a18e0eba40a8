/**
 * Every incident of seed 000's catalogue, injected into the lab's Loki and Tempo and
 * read back as the runbook reads it (the seed's four LogQL queries, the trace, the
 * failing services' uncorrelated lines), is placed on the role that failed first,
 * with the seed's failure class; evidence without host_role or correlation_id is an
 * observability gap.
 */
import { LokiClient } from '../../../capabilities/observability-query/loki-client';
import { TempoClient } from '../../../capabilities/observability-query/tempo-client';
import { correlationQueries } from '../../../capabilities/triage/requests';
import { lokiLogSource, tempoTraceSource } from '../../../capabilities/triage/triage-activities';
import type { LogEvent } from '../../../domain/incident-evidence';
import { decideTriage } from '../../../domain/incident-triage';
import { INCIDENT_SCENARIOS } from '../../../lab/observability/incident-scenarios';
import { connectStack, type Stack } from '../../../test/support/harness';
import { testEnv } from '../../../test/support/test-env';
import { uncorrelatedSearch } from '../policies/uncorrelated-search';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

const logs = () => lokiLogSource(new LokiClient({ baseUrl: testEnv('platformUrl') }));
const traces = () => tempoTraceSource(new TempoClient({ baseUrl: testEnv('platformUrl') }));

/** What the runbook reads for one incident, without Temporal in between. */
async function triage(correlationId: string, traceId: string | undefined) {
  const range = { startMs: Date.now() - 3_600_000, endMs: Date.now(), limit: 1000 };
  const found = (await Promise.all(correlationQueries(correlationId).map((q) => logs().query(q.logql, range)))).flat();
  const unique = [...new Map(found.map((e) => [`${e.ts}|${e.service}|${e.msg}`, e])).values()];
  const spans = traceId ? await traces().trace(traceId) : [];
  const search = uncorrelatedSearch(unique, spans, 120_000, range.startMs);
  const uncorrelated: LogEvent[] = search
    ? (await Promise.all(search.queries.map((q) => logs().query(q, { ...range, startMs: search.startMs, endMs: search.endMs }))))
        .flat()
        .filter((e) => !e.correlation_id)
    : [];
  return decideTriage(correlationId, [...unique, ...uncorrelated], spans);
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
