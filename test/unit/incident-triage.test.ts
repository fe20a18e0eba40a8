import { parseProcessList, validateBoundary } from '../../domain/boundary-validation';
import type { LogEvent, Span } from '../../domain/incident-evidence';
import { causalRoots, decideTriage } from '../../domain/incident-triage';

const CID = 'req-7f3a';
const at = (s: number) => new Date(Date.UTC(2026, 11, 4, 9, 0, s)).toISOString();
const log = (s: number, over: Partial<LogEvent>): LogEvent => ({ ts: at(s), service: 'gpuaas-api', level: 'info', msg: 'ok', correlation_id: CID, ...over });
const span = (id: string, parent: string | undefined, s: number, over: Partial<Span>): Span => ({
  trace_id: 't1',
  span_id: id,
  parent_span_id: parent,
  service: 'gpuaas-api',
  name: 'op',
  start: at(s),
  end: at(s + 1),
  status: 'ok',
  attributes: {},
  ...over,
});

test('a registry failure that breaks a controller deploy that stalls a worker join: platform_control first, the rest downstream, cross-host', () => {
  const d = decideTriage(
    CID,
    [
      log(0, { msg: 'deploy requested', host_role: 'platform_control', host_name: 'dev-control-1' }),
      log(1, {
        service: 'registry',
        level: 'error',
        msg: 'manifest unknown: 503 from storage',
        component: 'registry',
        error: 'registry_unavailable',
        host_role: 'platform_control',
        host_name: 'dev-control-1',
      }),
      log(4, {
        service: 'slurmctld',
        level: 'error',
        msg: 'controller image pull failed',
        error: 'controller_deploy_failed',
        host_role: 'app_control',
        host_name: 'dev-lab-1',
      }),
      log(9, {
        service: 'node-agent',
        level: 'error',
        msg: 'slurmd join timed out',
        component: 'worker-join',
        error: 'join_timeout',
        host_role: 'worker_compute',
        host_name: 'dev-gpu-1',
      }),
    ],
    [],
  );
  expect(d).toMatchObject({
    outcome: 'boundary_identified',
    first_failing_boundary: 'platform_control',
    failure_class: { id: 'registry_or_runner' },
    scope: 'cross_host',
    first_failure: { service: 'registry', host_name: 'dev-control-1', action: 'manifest unknown: 503 from storage' },
    gaps: [],
  });
  expect(d.downstream_impact).toEqual([
    { role: 'app_control', hosts: ['dev-lab-1'], first_at: at(4), failures: 1, classes: ['control_component_unavailable'] },
    { role: 'worker_compute', hosts: ['dev-gpu-1'], first_at: at(9), failures: 1, classes: ['worker_join'] },
  ]);
  expect(d.recovery_guidance).toEqual(['restore GitLab/registry/control-plane/observability baseline first']);
});

test('a trace whose first error span is in gpuaas-app-runtime-worker is app_control, even though the API span failed first in time', () => {
  const spans = [
    span('a', undefined, 0, { status: 'error', name: 'POST /apps', host_role: 'platform_control', host_name: 'dev-control-1' }),
    span('b', 'a', 1, { service: 'gpuaas-outbox-relay', host_role: 'platform_control' }),
    span('c', 'a', 2, {
      service: 'gpuaas-app-runtime-worker',
      name: 'reconcile slurm-reference',
      status: 'error',
      status_message: 'slurmctld not answering',
      host_role: 'app_control',
      host_name: 'dev-lab-1',
    }),
  ];
  expect(causalRoots(spans).map((s) => s.span_id)).toEqual(['c']);
  expect(decideTriage(CID, [], spans)).toMatchObject({
    outcome: 'boundary_identified',
    first_failing_boundary: 'app_control',
    failure_class: { id: 'control_component_unavailable' },
    first_failure: { source: 'span', action: 'reconcile slurm-reference: slurmctld not answering' },
    // The API's failed request is the consequence, on another role and host.
    downstream_impact: [{ role: 'platform_control', hosts: ['dev-control-1'], failures: 1 }],
    scope: 'cross_host',
  });
});

test('a node-agent with an expired certificate, on one host: worker_compute, its class, single host', () => {
  const d = decideTriage(
    CID,
    [
      log(3, {
        service: 'node-agent',
        level: 'error',
        msg: 'tls: certificate has expired',
        error: 'cert_expired',
        host_role: 'worker_compute',
        host_name: 'dev-gpu-1',
        node_id: 'dev-gpu-1',
      }),
    ],
    [],
  );
  expect(d).toMatchObject({
    outcome: 'boundary_identified',
    first_failing_boundary: 'worker_compute',
    failure_class: { id: 'node_agent' },
    scope: 'single_host',
    downstream_impact: [],
  });
});

test('the deciding failure without host_role is an observability gap with its follow-up, and the role its service usually has as a lead only', () => {
  const d = decideTriage(
    CID,
    [
      log(2, { service: 'slurmctld', level: 'error', msg: 'no such partition gpu' }),
      log(5, { service: 'node-agent', level: 'error', msg: 'join failed', host_role: 'worker_compute', host_name: 'dev-gpu-1' }),
    ],
    [],
  );
  expect(d).toMatchObject({ outcome: 'observability_gap', first_failing_boundary: null, suspected_boundary: 'app_control', failure_class: null });
  expect(d.gaps).toEqual([
    expect.objectContaining({
      missing: 'host_role',
      services: ['slurmctld'],
      follow_up: expect.stringContaining('add host_role to the logs and spans of slurmctld'),
    }),
  ]);
});

test('a first failure found only by time window, without correlation_id, is an observability gap too', () => {
  const d = decideTriage(
    CID,
    [
      log(1, { service: 'registry', level: 'error', msg: 'disk full', host_role: 'platform_control', correlation_id: undefined }),
      log(4, { service: 'slurmctld', level: 'error', msg: 'pull failed', host_role: 'app_control' }),
    ],
    [],
  );
  expect(d).toMatchObject({ outcome: 'observability_gap', suspected_boundary: 'platform_control' });
  expect(d.gaps.map((g) => g.missing)).toEqual(['correlation_id']);
});

test('nothing carries the correlation_id: observability gap; evidence without any failure: inconclusive, saying what would decide it', () => {
  expect(decideTriage(CID, [], [])).toMatchObject({ outcome: 'observability_gap', gaps: [{ missing: 'evidence' }] });
  const quiet = decideTriage(CID, [log(0, { host_role: 'platform_control' }), log(7, { host_role: 'platform_control' })], []);
  expect(quiet).toMatchObject({ outcome: 'inconclusive', first_failing_boundary: null });
  expect(quiet.would_decide).toContain(`between ${at(0)} and ${at(7)}`);
});

test('failures on two roles at the same instant with no trace to order them are inconclusive; never one picked at random', () => {
  const d = decideTriage(
    CID,
    [
      log(3, { service: 'registry', level: 'error', msg: 'x', host_role: 'platform_control' }),
      log(3, { service: 'node-agent', level: 'error', msg: 'y', host_role: 'worker_compute' }),
    ],
    [],
  );
  expect(d).toMatchObject({ outcome: 'inconclusive' });
  expect(d.would_decide).toContain('a trace_id would order them');
});

test('boundary validation: control daemons and CI runners on the GPU worker, platform services on the lab host; what belongs there is no finding', () => {
  const gpu = parseProcessList(
    [
      '    1 root     /sbin/init',
      '  812 root     /usr/bin/node-agent --config /etc/gpuaas/agent.yaml',
      ' 2210 slurm    /usr/sbin/slurmctld -D',
      ' 2301 gitlab-runner /usr/bin/gitlab-runner run --working-directory /home/gitlab-runner',
      ' 2400 ray      ray start --head --port 6379',
    ].join('\n'),
  );
  expect(validateBoundary({ host_name: 'dev-gpu-1', host_role: 'worker_compute' }, gpu).map((f) => [f.pid, f.rule])).toEqual([
    [2210, 'no-control-daemons-on-gpu'],
    [2301, 'no-ci-on-gpu'],
    [2400, 'no-control-daemons-on-gpu'],
  ]);
  expect(validateBoundary({ host_name: 'dev-gpu-1', host_role: 'worker_compute' }, gpu)[1]!.cites).toContain('“No arbitrary CI jobs on dev-gpu-1”');
  const lab = parseProcessList(' 900 slurm /usr/sbin/slurmctld -D\n 950 registry /usr/bin/registry serve /etc/docker/registry/config.yml');
  expect(validateBoundary({ host_name: 'dev-lab-1', host_role: 'app_control' }, lab).map((f) => [f.pid, f.rule])).toEqual([
    [950, 'lab-host-not-platform-control'],
  ]);
});
