import { FAILURE_MODE_FACTS, type FailureFinding, type FailureMode } from '../../../domain/app-runtime-failures';
import type { AppInstanceDeployInput } from '../input';

/** The runbook step that fixes each failure mode (its name in the status, the report and the page). */
const FIX_STEPS: Record<FailureMode, string> = {
  no_controller: 'bring_up_controller',
  controller_dials_hostname: 'upgrade_controller',
  node_api_unreachable: 'restore_node_api_mapping',
  agent_cert_expired: 'rotate_agent_certificate',
  enrollment_token_stale: 'reenroll_node_agent',
  bootstrap_tasks_queued: 'reconcile_bootstrap_ssh',
};

export function fixStep(mode: FailureMode): string {
  return FIX_STEPS[mode];
}

/** What the approver of a controller fix is asked. */
export function fixQuestion(f: FailureFinding, input: AppInstanceDeployInput, controlHost: string): string {
  return f.mode === 'no_controller'
    ? `No slurm-reference-controller runs on ${controlHost} (app_control). Bring up build ${input.controller_build} there for ${input.app_instance_id}?`
    : `slurm-reference-controller on ${controlHost} dials connection.hostname (${f.evidence}). Upgrade it to build ${input.controller_build}, which dials connection.host?`;
}

/** What a person must do when a fix did not take or was not approved: the first failing boundary and the step. */
export function escalationText(f: FailureFinding, why: string): string {
  const facts = FAILURE_MODE_FACTS[f.mode];
  return `first failing boundary: ${f.boundary} — ${facts.title}; ${why}. Evidence: ${f.evidence}. Fix by hand: ${FIX_STEPS[f.mode].replace(/_/g, ' ')}`;
}

/** The durable follow-ups the page asks to track, one per failure mode found. */
export function followUps(modes: readonly FailureMode[]): string[] {
  return [...new Set(modes.map((m) => FAILURE_MODE_FACTS[m].followUp))];
}
