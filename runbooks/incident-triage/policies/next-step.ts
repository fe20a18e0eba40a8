import type { LogEvent } from '../../../domain/incident-evidence';
import type { TriageDecision } from '../../../domain/incident-triage';

/** A runbook that can act on the diagnosis, offered to a person; it starts only on approval. */
export interface NextStep {
  runbook: string;
  input: Record<string, unknown>;
  why: string;
}

/** Classes app-instance-deploy diagnoses and fixes, owning boundary first (controller, node-agent, join). */
const DEPLOY_FIXES = new Set(['control_component_unavailable', 'scheduler_stack_misconfigured', 'node_shim_or_adapter', 'node_agent', 'worker_join']);

/**
 * The runbook that acts on an identified boundary, when the evidence names what it needs:
 * a GPU validation failure → gpu-health-check on that node; a controller, node-agent or
 * join failure of a platform-app instance → app-instance-deploy on that instance.
 */
export function nextStepFor(decision: TriageDecision, evidence: readonly LogEvent[], nodeId: string | undefined): NextStep | null {
  if (decision.outcome !== 'boundary_identified' || !decision.failure_class) return null;
  const cls = decision.failure_class.id;
  const node = decision.first_failure?.node_id ?? nodeId;
  if (cls === 'gpu_validation' && node) {
    return { runbook: 'gpu-health-check', input: { node_id: node }, why: `GPU runtime validation failed on ${node}: read its GPUs before anyone touches it` };
  }
  if (DEPLOY_FIXES.has(cls)) {
    const about = evidence.find((e) => e.project_id && e.app_instance_id);
    if (about) {
      return {
        runbook: 'app-instance-deploy',
        input: { project_id: about.project_id, app_instance_id: about.app_instance_id },
        why: `${decision.failure_class.name}: app-instance-deploy diagnoses ${about.app_instance_id}'s controller and node-agent failure modes and fixes them one at a time`,
      };
    }
  }
  return null;
}
