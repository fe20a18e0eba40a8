import { matcherMatches, notificationDelta, ORCHESTRATOR_ALERTS, receiversFor, type AlertRoute } from '../../domain/orchestrator-alerts';

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

it('counts a notification delivered only when the receiver took an attempt, and one given up apart from failed attempts', () => {
  const before = { webhook: { notifications: 3, notifications_failed: 0, requests: 3, requests_failed: 0 } };
  // Two notifications started; the receiver answered 503 four times and then took one.
  const after = {
    webhook: { notifications: 5, notifications_failed: 0, requests: 8, requests_failed: 4 },
    email: { notifications: 9, notifications_failed: 9, requests: 9, requests_failed: 9 },
  };
  expect(notificationDelta(before, after, ['webhook'])).toEqual({ started: 2, delivered: 1, attempts_failed: 4, given_up: 0 });
  // An integration the alerts are not routed to does not count.
  expect(notificationDelta(before, after, ['webhook', 'pagerduty']).given_up).toBe(0);
  expect(notificationDelta({}, after, ['email'])).toEqual({ started: 9, delivered: 0, attempts_failed: 9, given_up: 9 });
});
