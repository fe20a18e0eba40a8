import { ApplicationFailure, proxyActivities } from '@temporalio/workflow';
import type { z } from 'zod';
import type { HostDescription, InventoryActivities } from '../capabilities/inventory/inventory-activities';
import { ErrorType } from '../domain/errors';
import { hostRoleViolation } from '../domain/host-role-rules';
import { isActionAllowed, type HostAction } from '../domain/host-roles';
import { ActivityOptionSets } from './activity-options';
import type { RunbookRun } from './runner';

const inventory = proxyActivities<InventoryActivities>(ActivityOptionSets.lookup);

/** A workflow's input through its schema; input the schema refuses fails the run at once (InvalidInput). */
export function parseWorkflowInput<S extends z.ZodTypeAny>(schema: S, request: unknown): z.output<S> {
  const parsed = schema.safeParse(request);
  if (!parsed.success) {
    throw ApplicationFailure.create({
      type: ErrorType.InvalidInput,
      message: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '),
      nonRetryable: true,
    });
  }
  return parsed.data;
}

/**
 * The first two pre-checks of a runbook that acts on one host: `resolve_target`
 * (the node is in the inventory; the run's target, search attributes and log
 * fields follow) and `check_host_role` (the host's role allows `action`, else
 * HostRoleViolation before any SSH). `what` names the runbook in that error.
 */
export async function resolveTarget(run: RunbookRun, nodeId: string, action: HostAction, what: string): Promise<HostDescription> {
  const host = await run.step('resolve_target', () => inventory.describeHost(nodeId), {
    describe: (h) => `${h.hostname} (${h.role}, ${h.gpu_count} GPUs)`,
  });
  run.setTarget({ node_id: host.node_id, host_name: host.hostname, host_role: host.role });
  await run.step('check_host_role', async () => {
    if (!isActionAllowed(action, host.role)) throw hostRoleViolation(action, host, what);
    requireDrillable(run, host);
  });
  return host;
}

/**
 * A drill acts only on hosts the inventory marks drillable: its target (the API checks
 * that before it schedules) and every other host the run touches, such as the
 * app_control host a platform-app drill restarts a controller on.
 */
export function requireDrillable(run: RunbookRun, host: HostDescription): void {
  if (run.id.runMode === 'drill' && host.drillable === false) {
    throw ApplicationFailure.create({
      type: ErrorType.NotDrillable,
      message: `${host.hostname} (${host.role}) is not marked drillable in the inventory; a drill acts on drillable hosts only`,
      nonRetryable: true,
    });
  }
}
