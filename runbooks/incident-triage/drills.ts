import type { DrillScenario } from '../../domain/drills';

/**
 * A drill per boundary: one of the lab's seed-000 incidents injected under a fixed
 * correlation id (a staging hook writes the same lines into its own Loki), and the
 * triage must name that boundary and class, not only end `boundary_identified`.
 * The target is the platform_control host the API drills from; the triage reads,
 * it changes nothing.
 */
const boundaryDrill = (boundary: string, incident: string, failureClass: string): DrillScenario => ({
  name: `boundary-${boundary.replace('_', '-')}`,
  summary: `a ${failureClass} incident (lab scenario ${incident}) triaged from its correlation_id alone: first failing boundary ${boundary}`,
  fault: { path: '/lab/v1/observability/incidents', body: { scenario: incident, correlation_id: `drill-${incident}` } },
  input: { correlation_id: `drill-${incident}`, lookback: '30m' },
  expect: { outcome: 'boundary_identified', summary_contains: `first failing boundary ${boundary} (${failureClass})` },
});

export const INCIDENT_TRIAGE_DRILLS: readonly DrillScenario[] = [
  boundaryDrill('platform_control', 'platform-registry-runner-failure', 'registry or runner failure'),
  boundaryDrill('app_control', 'app-scheduler-misconfigured', 'scheduler reference control stack misconfigured'),
  boundaryDrill('worker_compute', 'worker-node-agent-cert', 'node-agent offline or cert/runtime issue'),
];
