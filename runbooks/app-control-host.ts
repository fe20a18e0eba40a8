import { proxyActivities } from '@temporalio/workflow';
import type { HostDescription, InventoryActivities } from '../capabilities/inventory/inventory-activities';
import type { StepContext } from '../domain/step-context';
import { ActivityOptionSets } from '../engine/activity-options';
import type { RunbookRun } from '../engine/runner';
import { requireDrillable } from '../engine/target';

const inventory = proxyActivities<InventoryActivities>(ActivityOptionSets.lookup);

/**
 * The app_control host that runs the platform-app controllers (step
 * `find_app_control_host`): the one named, or the inventory's only one. A named host of
 * another role is refused: the controller runs on app_control hosts only. A drill
 * refuses one the inventory does not mark drillable.
 */
export function findAppControlHost(run: RunbookRun, named: string | undefined): Promise<HostDescription> {
  return run.step(
    'find_app_control_host',
    async () => {
      const candidates = named ? [await inventory.describeHost(named)] : await inventory.hostsWithRole('app_control');
      const hosts = candidates.filter((h) => h.role === 'app_control');
      if (hosts.length !== 1) {
        throw new Error(
          named
            ? `${named} is ${candidates[0]?.role}, not app_control: the controller runs on app_control hosts only`
            : `the inventory has ${hosts.length} app_control hosts; name one with app_control_node_id`,
        );
      }
      requireDrillable(run, hosts[0]!);
      return hosts[0]!;
    },
    { describe: (h) => `${h.hostname} (app_control)` },
  );
}

/** A step context aimed at another host than the run's target (the controller's). */
export function onHost(ctx: StepContext, host: HostDescription): StepContext {
  return { ...ctx, node_id: host.node_id, host_name: host.hostname, host_role: host.role };
}
