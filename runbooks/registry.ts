/**
 * Every runbook the engine runs. Adding one touches its folder and this file
 * only: import its definition, export its workflow function, list it.
 *
 * This file is also the worker's workflow bundle entry: the workflow functions
 * exported here are the ones the worker registers, and the API, the docs index
 * and the tests derive their runbook lists from RUNBOOKS.
 */
import type { RunbookDefinition } from '../domain/runbook-definition';
import { appInstanceDeployRunbook } from './app-instance-deploy/definition';
import { bootstrapSshReconcileRunbook } from './bootstrap-ssh-reconcile/definition';
import { gpuDriverUpgradeRunbook } from './gpu-driver-upgrade/definition';
import { dlqReplayRunbook } from './dlq-replay/definition';
import { drainAndRollingUpgradeRunbook } from './drain-and-rolling-upgrade/definition';
import { gpuFaultRemediationRunbook } from './gpu-fault-remediation/definition';
import { gpuHealthCheckRunbook } from './gpu-health-check/definition';
import { poolForceEvictRunbook } from './pool-force-evict/definition';
import { leaderRecoveryRunbook } from './leader-recovery/definition';
import { incidentTriageRunbook } from './incident-triage/definition';
import { orchestratorAlertCheckRunbook } from './orchestrator-alert-check/definition';
import { workerAddRunbook } from './worker-add/definition';

// The engine's own workflows, which runbooks use.
export { disruptionLedger } from '../engine/disruption-ledger';
export { fleetRun } from '../engine/fleet-run';
export { runbookDrill } from '../engine/drill';

export { appInstanceDeploy } from './app-instance-deploy/workflow';
export { bootstrapSshReconcile } from './bootstrap-ssh-reconcile/workflow';
export { gpuDriverUpgrade } from './gpu-driver-upgrade/workflow';
export { dlqReplay } from './dlq-replay/workflow';
export { drainAndRollingUpgrade } from './drain-and-rolling-upgrade/workflow';
export { gpuFaultRemediation } from './gpu-fault-remediation/workflow';
export { gpuHealthCheck } from './gpu-health-check/workflow';
export { poolForceEvict } from './pool-force-evict/workflow';
export { leaderRecovery } from './leader-recovery/workflow';
export { incidentTriage } from './incident-triage/workflow';
export { orchestratorAlertCheck } from './orchestrator-alert-check/workflow';
export { workerAdd } from './worker-add/workflow';

export const RUNBOOKS: readonly RunbookDefinition[] = [
  gpuFaultRemediationRunbook,
  gpuHealthCheckRunbook,
  appInstanceDeployRunbook,
  bootstrapSshReconcileRunbook,
  workerAddRunbook,
  poolForceEvictRunbook,
  gpuDriverUpgradeRunbook,
  leaderRecoveryRunbook,
  dlqReplayRunbook,
  drainAndRollingUpgradeRunbook,
  incidentTriageRunbook,
  orchestratorAlertCheckRunbook,
];
