import {
  AGENT_CERT,
  AGENT_ENV,
  AGENT_KEY,
  AGENT_UNIT,
  CONTROLLER_UNIT,
  HOSTS_FILE,
  installControllerCommand,
  moveAsideCommand,
  unitRestartCommand,
  unitStartCommand,
  writeFileCommand,
} from '../../capabilities/app-runtime/commands';
import { appRuntimeRequests } from '../../capabilities/app-runtime/requests';
import type { FailureFinding } from '../../domain/app-runtime-failures';
import type { Plan, PlannedAction, PlannedHttp } from '../../domain/plan';
import { RUNBOOK_APP_INSTANCE_DEPLOY, type AppInstanceDeployInput } from './input';
import { fixQuestion, fixStep } from './policies/fixes';

export interface DeployPlanFacts {
  input: AppInstanceDeployInput;
  findings: FailureFinding[];
  /** The app_control host running the controller, and the worker the controller allocation is bound to. */
  controlHost: string;
  boundNode: string;
  controllerInstalled: boolean;
}

const ssh = (step: string, host: string, host_role: 'app_control' | 'worker_compute', argv: string[]): PlannedAction => ({
  kind: 'ssh',
  step,
  host,
  host_role,
  argv,
  mutates: true,
});
const http = (step: string, req: { method: 'GET' | 'POST'; path: string; body?: unknown; mutates: boolean }): PlannedHttp => ({ kind: 'http', step, ...req });

/** What fixing each finding would do, in the order the procedure fixes them, then verify. */
export function planDeploy(f: DeployPlanFacts): Plan {
  const { input } = f;
  const actions: PlannedAction[] = [];
  for (const finding of f.findings) {
    const step = fixStep(finding.mode);
    if (finding.needsApproval) actions.push({ kind: 'approval', step: `approve_${step}`, question: fixQuestion(finding, input, f.controlHost) });
    switch (finding.fix) {
      case 'bring_up_controller':
        actions.push(
          ssh(step, f.controlHost, 'app_control', f.controllerInstalled ? unitStartCommand(CONTROLLER_UNIT) : installControllerCommand(input.controller_build)),
        );
        break;
      case 'upgrade_controller':
        actions.push(ssh(step, f.controlHost, 'app_control', installControllerCommand(input.controller_build)));
        break;
      case 'restore_node_api_mapping':
        actions.push(
          ssh(step, f.boundNode, 'worker_compute', writeFileCommand(HOSTS_FILE, '0644')),
          ssh(step, f.boundNode, 'worker_compute', unitRestartCommand(AGENT_UNIT)),
        );
        break;
      case 'rotate_agent_certificate':
        actions.push(
          ssh(step, f.boundNode, 'worker_compute', moveAsideCommand(AGENT_CERT, '<run>')),
          ssh(step, f.boundNode, 'worker_compute', moveAsideCommand(AGENT_KEY, '<run>')),
          ssh(step, f.boundNode, 'worker_compute', unitRestartCommand(AGENT_UNIT)),
        );
        break;
      case 'reenroll_agent':
        actions.push(
          http(step, appRuntimeRequests.mintEnrollmentToken(f.boundNode)),
          ssh(step, f.boundNode, 'worker_compute', writeFileCommand(AGENT_ENV, '0600')),
          ssh(step, f.boundNode, 'worker_compute', unitRestartCommand(AGENT_UNIT)),
        );
        break;
      case 'reconcile_bootstrap_ssh':
        actions.push(http(step, appRuntimeRequests.reconcileBootstrapSsh(input.project_id, input.app_instance_id)));
        break;
    }
    actions.push({ kind: 'check', step: `diagnose_after_${step}`, what: 'the failure modes again: the next one that holds is fixed the same way' });
  }
  actions.push(
    {
      kind: 'wait',
      step: 'wait_for_running',
      until: 'status running and the controller member ready',
      timeout_ms: input.converge_timeout,
      poll: http('wait_for_running', appRuntimeRequests.getAppInstance(input.project_id, input.app_instance_id)),
    },
    http('reconcile_bootstrap_ssh', appRuntimeRequests.reconcileBootstrapSsh(input.project_id, input.app_instance_id)),
    { kind: 'end', outcome: 'running', why: 'slurm_ready, slurmctld up, slurmd idle, and a bootstrap SSH reconcile completed' },
  );
  return { runbook: RUNBOOK_APP_INSTANCE_DEPLOY, node_id: f.boundNode, actions };
}
