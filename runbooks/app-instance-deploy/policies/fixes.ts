import { FAILURE_MODE_FACTS, type FailureFinding, type FailureMode } from '../../../domain/app-runtime-failures';
import type { AppInstanceDeployInput } from '../input';

export function fixStep(mode: FailureMode): string {
  return FAILURE_MODE_FACTS[mode].step;
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
  return `first failing boundary: ${f.boundary} — ${facts.title}; ${why}. Evidence: ${f.evidence}. Fix by hand: ${facts.step.replace(/_/g, ' ')}`;
}

/** The durable follow-ups the page asks to track, one per failure mode found. */
export function followUps(modes: readonly FailureMode[]): string[] {
  return [...new Set(modes.map((m) => FAILURE_MODE_FACTS[m].followUp))];
}
