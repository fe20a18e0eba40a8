/**
 * A drill as its schedule would start it, for tests: the scenario aimed at a node,
 * its DrillInput (as POST /api/v1/drills builds it), and `runbookDrill` executed on
 * a task queue the caller's worker serves.
 */
import type { Client } from '@temporalio/client';
import { drillOf, fillTimePlaceholders, type DrillInput, type DrillReport, type DrillScenario } from '../../domain/drills';
import type { RunbookDefinition } from '../../domain/runbook-definition';

export interface DrillOptions {
  /** Default: `test-<scenario>-<now>`. */
  drillId?: string;
  /** Appended to the drilled run's workflow id, so repeated drills in one suite do not meet an earlier run. */
  childSuffix?: string;
}

export function drillInputFor(entry: RunbookDefinition, scenario: DrillScenario, nodeId: string, opts: DrillOptions = {}): DrillInput {
  const aimed = drillOf(entry, scenario, nodeId);
  const drillId = opts.drillId ?? `test-${scenario.name}-${Date.now()}`;
  const parsed = entry.schema.parse(fillTimePlaceholders(aimed.runInput, Date.now()).value);
  return {
    drill_id: drillId,
    runbook: entry.name,
    workflow_type: entry.workflowType,
    scenario: aimed.scenario,
    node_id: nodeId,
    child_workflow_id: `${entry.workflowId(parsed)}${opts.childSuffix ?? ''}`,
    run_input: aimed.runInput,
  };
}

export async function runDrill(client: Client, taskQueue: string, input: DrillInput): Promise<DrillReport> {
  return (await client.workflow.execute('runbookDrill', { taskQueue, workflowId: `drill/${input.drill_id}`, args: [input] })) as DrillReport;
}
