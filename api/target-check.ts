import { citeRule, ruleRefusing } from '../domain/host-role-rules';
import type { Inventory } from '../domain/inventory';
import type { RunbookDefinition } from '../domain/runbook-definition';
import type { RunMode } from '../domain/runbook';
import { ApiError } from './errors';

/**
 * Why `entry` may not act on `nodeId` in `runMode`, as the 4xx it answers, or
 * undefined: the node is in the inventory, has the runbook's role (unless
 * `checkRole` is false: a drill that expects a refusal aims elsewhere on
 * purpose), and is marked drillable for a drill. The same rule for a single
 * run, each target of a fleet run, and a scheduled drill; checked before
 * anything starts.
 */
export function targetProblem(entry: RunbookDefinition, inventory: Inventory, nodeId: string, runMode: RunMode, checkRole = true): ApiError | undefined {
  const host = inventory.hosts.find((h) => h.node_id === nodeId);
  if (!host) return new ApiError(404, 'node_not_found', `node ${nodeId} is not in the inventory`, { node_id: nodeId });
  if (checkRole && host.role !== entry.targetRole) {
    // The rule the run's own check_host_role would cite, quoted before anything starts.
    const rule = entry.targetAction && ruleRefusing(entry.targetAction, host.role);
    return new ApiError(
      422,
      'host_role_violation',
      `${entry.name} acts on ${entry.targetRole} hosts; ${nodeId} is ${host.role}${rule ? `; ${citeRule(rule)}` : ''}`,
      {
        node_id: nodeId,
        role: host.role,
        required_role: entry.targetRole,
        rule: rule ? rule.id : null,
      },
    );
  }
  // A drill injects faults and acts for real: only on hosts marked for it (the lab, a staging pool).
  if (runMode === 'drill' && !host.drillable) {
    return new ApiError(422, 'not_drillable', `${nodeId} is not marked drillable in the inventory; drills run only on drillable hosts`, { node_id: nodeId });
  }
  return undefined;
}
