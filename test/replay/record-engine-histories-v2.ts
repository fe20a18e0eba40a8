/**
 * Records v2 of the engine's drill workflow for the replay tests (`engine/histories/`):
 * `npx tsx test/replay/record-engine-histories-v2.ts`. v2 fills a drill's time
 * placeholders with workflow time as it starts the run (patched
 * `drill-time-placeholders`); recorded with drain-and-rolling-upgrade's weekly drill,
 * whose window and backup marker are placeholders, on the lab's orchestrator. v1 is
 * recorded by `record-engine-histories.ts`.
 */
import path from 'node:path';
import { drillOf, fillTimePlaceholders, type DrillInput } from '../../domain/drills';
import { drainAndRollingUpgradeRunbook as upgrade } from '../../runbooks/drain-and-rolling-upgrade/definition';
import { runRecording, type Scenario } from '../support/record-histories';

const scenarios: Record<string, Scenario> = {
  // The drill a weekly schedule starts: the previous release and jobs in flight injected, the upgrade run as a child, its approval answered.
  'drill-safe-drain-upgrade': async (s, taskQueue) => {
    await s.lab.reset();
    const { scenario, runInput } = drillOf(upgrade, upgrade.drills![0]!, 'dev-control-1');
    const input: DrillInput = {
      drill_id: 'record-safe-drain-upgrade',
      runbook: upgrade.name,
      workflow_type: upgrade.workflowType,
      scenario,
      node_id: 'dev-control-1',
      child_workflow_id: upgrade.workflowId(upgrade.schema.parse(fillTimePlaceholders(runInput, Date.now()).value)),
      run_input: runInput,
    };
    return s.client.workflow.start('runbookDrill', { taskQueue, workflowId: 'drill/record-safe-drain-upgrade', args: [input] });
  },
};

runRecording({ out: path.join(__dirname, '..', '..', 'engine', 'histories'), version: 'v2', scenarios, orchestrator: true });
