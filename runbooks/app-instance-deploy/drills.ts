import type { DrillScenario } from '../../domain/drills';

const PROJECT = 'proj-lab';

/**
 * A stuck deploy on the drilled node: the lab (or a staging hook) creates a deploying
 * instance whose controller allocation is bound to the node, with `faults` already in
 * place, and the run takes it over. The instance id is the scenario's and the node's,
 * so each run of the drill replaces the last one's instance.
 */
function stuckDeploy(name: string, tag: string, summary: string, faults: Record<string, unknown>[], approvals?: DrillScenario['approvals']): DrillScenario {
  const id = `drill-${tag}-{node}`;
  return {
    name,
    summary,
    fault: { path: '/lab/v1/app-runtime/instances', body: { id, name: id, project_id: PROJECT, controller_node_id: '{node}', faults } },
    input: { project_id: PROJECT, app_instance_id: id, poll_interval: '1s', converge_timeout: '2m' },
    ...(approvals ? { approvals } : {}),
    expect: { outcome: 'running' },
  };
}

/** The app-instance-deploy drills: each of seed 001's failure modes, and the incident's 3 → 4 → 5 chain, on a drillable worker. */
export const APP_INSTANCE_DEPLOY_DRILLS: readonly DrillScenario[] = [
  stuckDeploy(
    'no-controller',
    'm1',
    'failure mode 1: no slurm-reference-controller on the app_control host; the drill approves bringing it up',
    [{ fault: 'no_controller' }],
    { approve_bring_up_controller: 'approve' },
  ),
  stuckDeploy(
    'hostname-build',
    'm2',
    'failure mode 2: the controller build dials connection.hostname (a MAAS name); the drill approves the upgrade to the known-good build',
    [{ fault: 'hostname_build' }],
    { approve_upgrade_controller: 'approve' },
  ),
  stuckDeploy('node-api-unreachable', 'm3', 'failure mode 3: the node cannot reach the node API name; the hosts entry is restored', [
    { fault: 'node_api_unreachable', node_id: '{node}' },
  ]),
  stuckDeploy('agent-cert-expired', 'm4', "failure mode 4: the node-agent's certificate expired; it is moved aside and the agent restarted", [
    { fault: 'agent_cert_expired', node_id: '{node}' },
  ]),
  stuckDeploy('enrollment-token-stale', 'm5', 'failure mode 5: the enrollment token is stale (401 token_invalid); a fresh one is minted and written', [
    { fault: 'stale_enrollment_token', node_id: '{node}' },
  ]),
  stuckDeploy(
    'bootstrap-tasks-queued',
    'm6',
    'failure mode 6: the node-agent is stopped, so bootstrap node tasks stay queued; the agent first, then the reconcile',
    [{ fault: 'agent_stopped', node_id: '{node}' }],
  ),
  stuckDeploy('chain-3-4-5', 'chain', "the incident's chain: node API unreachable, then an expired certificate, then a stale token, each fixed in turn", [
    { fault: 'node_api_unreachable', node_id: '{node}' },
    { fault: 'agent_cert_expired', node_id: '{node}' },
    { fault: 'stale_enrollment_token', node_id: '{node}' },
  ]),
];
