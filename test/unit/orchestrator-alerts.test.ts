import { matcherMatches, ORCHESTRATOR_ALERTS, receiversFor, type AlertRoute } from '../../domain/orchestrator-alerts';

const backlog = { alertname: 'GpuOrchestratorPendingJobsBacklog', cluster: 'prod-east', severity: 'page' };

describe("Alertmanager's matchers", () => {
  it.each([
    ['severity="page"', true],
    ['severity = page', true],
    ['severity!="page"', false],
    ['alertname=~"GpuOrchestrator.*"', true],
    ['alertname=~"Orchestrator"', false], // anchored, as Alertmanager anchors them
    ['cluster!~"prod-.*"', false],
    ['team="gpu"', false],
    ['team=""', true], // a missing label is the empty string
    ['not a matcher', false],
  ])('%s → %s', (matcher, expected) => {
    expect(matcherMatches(matcher, backlog)).toBe(expected);
  });
});

describe('the receivers an alert reaches', () => {
  const tree: AlertRoute = {
    receiver: 'default-email',
    routes: [
      { matchers: ['severity="ticket"'], receiver: 'tickets' },
      { match_re: { alertname: 'GpuOrchestrator.*' }, receiver: 'gpu-oncall', continue: true },
      { match: { cluster: 'prod-east' }, routes: [{ matchers: ['severity="page"'], receiver: 'east-pager' }] },
      { matchers: ['cluster=~"prod-.*"'], receiver: 'prod-fallback' },
    ],
  };

  it('walks the tree first match first, going on past a route with continue', () => {
    expect(receiversFor(tree, backlog)).toEqual(['gpu-oncall', 'east-pager']);
  });

  it('falls back to the parent receiver when no child matches', () => {
    expect(receiversFor(tree, { alertname: 'Other', cluster: 'lab' })).toEqual(['default-email']);
    // A child route without a receiver inherits its parent's.
    expect(receiversFor({ receiver: 'root', routes: [{ matchers: ['cluster="lab"'] }] }, { cluster: 'lab' })).toEqual(['root']);
  });

  it('reaches nobody in a tree with no receiver for it', () => {
    expect(receiversFor({ routes: [{ matchers: ['team="db"'], receiver: 'db' }] }, backlog)).toEqual([]);
  });
});

it("quotes the cluster in each alert's value query", () => {
  expect(ORCHESTRATOR_ALERTS[0]!.valueQuery('lab')).toBe('max(gpu_orchestrator_pending_jobs{cluster="lab"})');
  expect(ORCHESTRATOR_ALERTS[1]!.valueQuery('a"b')).toContain('cluster="a\\"b"');
});
