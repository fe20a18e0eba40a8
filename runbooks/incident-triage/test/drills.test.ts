/**
 * incident-triage's drills, one per boundary, as a schedule runs them: the incident
 * injected, the triage run as the drill's child, and the drill passing only when the
 * summary names the boundary and class (a scenario expecting another boundary fails).
 */
import type { DrillReport, DrillScenario } from '../../../domain/drills';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import { connectStack, type Stack } from '../../../test/support/harness';
import { incidentTriageRunbook } from '../definition';

let stack: Stack;
beforeAll(async () => {
  stack = await connectStack();
});
afterAll(async () => stack?.close());

async function drill(scenario: DrillScenario): Promise<DrillReport> {
  await stack.lab.reset();
  const input = drillInputFor(incidentTriageRunbook, scenario, 'dev-control-1');
  return stack.withWorker('triage-drill', (taskQueue) => runDrill(stack.client, taskQueue, input));
}

test.each(incidentTriageRunbook.drills!.map((d) => [d.name, d]))('drill %s passes: the triage names its boundary and class', async (_name, scenario) => {
  const report = await drill(scenario);
  expect(report).toMatchObject({ passed: true, outcome: 'boundary_identified' });
  expect(report.expected).toContain('its summary saying "first failing boundary');
});

test('a drill expecting another boundary fails though the outcome matches: the summary decides', async () => {
  const shipped = incidentTriageRunbook.drills![0]!;
  const wrong: DrillScenario = { ...shipped, expect: { outcome: 'boundary_identified', summary_contains: 'first failing boundary worker_compute' } };
  const report = await drill(wrong);
  expect(report).toMatchObject({ passed: false, outcome: 'boundary_identified' });
});
