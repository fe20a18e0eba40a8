import { ParentClosePolicy, patched, proxyActivities, startChild, workflowInfo } from '@temporalio/workflow';
import type { DrillActivities } from '../capabilities/drill/drill-activities';
import { drillPassed, expectedText, fillTimePlaceholders, type DrillInput, type DrillReport } from '../domain/drills';
import { MEMO_REQUESTED_BY, type RunReport } from '../domain/runbook';
import { runUserMetadata } from '../domain/run-summary';
import { ActivityOptionSets } from './activity-options';
import { failureOf } from './failures';

const POLL_MS = 1_000;
/** Longest a drilled run may take before the drill stops answering its approvals. */
const DRILL_WATCH_MS = 4 * 60 * 60_000;
/** The injection activity heartbeats this often while a slow hook answers. */
const FAULT_HEARTBEAT_POLL_MS = 2_000;

const drill = proxyActivities<DrillActivities>(ActivityOptionSets.platformCall);
const watcher = proxyActivities<DrillActivities>(ActivityOptionSets.boundedWait(DRILL_WATCH_MS, POLL_MS));

/**
 * One drill, as a Temporal Schedule starts it: inject the scenario's fault,
 * run the runbook on the target in drill mode (a child run with the runbook's
 * own workflow id), answer its approvals as the scenario says, compare the
 * outcome with the expectation, and keep the report in PostgreSQL.
 */
export async function runbookDrill(input: DrillInput): Promise<DrillReport> {
  const { scenario } = input;
  const { workflowId, runId } = workflowInfo();
  const startedAt = Date.now();
  if (scenario.fault) {
    // A hook that answers late (it waits for its fault to take hold) gets its own bound, heartbeating meanwhile.
    const answerMs = scenario.fault.answer_within_ms;
    const injector = answerMs ? proxyActivities<DrillActivities>(ActivityOptionSets.boundedWait(answerMs, FAULT_HEARTBEAT_POLL_MS)) : drill;
    await injector.injectDrillFault(input.node_id, scenario.fault, `${workflowId}/${runId}/inject`);
  }
  const injectedAt = Date.now();

  const given = input.run_input ?? { ...scenario.input, node_id: input.node_id };
  // Instants relative to this run ({now+2h}: a weekly schedule cannot fix them), in workflow time as the run starts.
  const runInput = patched('drill-time-placeholders') ? fillTimePlaceholders(given, Date.now()).value : given;
  const child = await startChild(input.workflow_type, {
    workflowId: input.child_workflow_id,
    args: [
      {
        ...runInput,
        run_mode: 'drill',
        source: `drill:${input.drill_id}`,
        // The drill's id, unless the input names its own: a triage's correlation_id is what it investigates.
        correlation_id: typeof runInput.correlation_id === 'string' ? runInput.correlation_id : `${workflowId}/${runId}`,
      },
    ],
    parentClosePolicy: ParentClosePolicy.ABANDON,
    memo: { [MEMO_REQUESTED_BY]: `drill:${input.drill_id}` },
    ...runUserMetadata({
      runbook: input.runbook,
      runMode: 'drill',
      nodeId: input.node_id,
      trigger: `drill ${input.drill_id}: scenario ${scenario.name}`,
      requestedBy: `drill:${input.drill_id}`,
    }),
  });
  const answering = watcher.answerDrillApprovals(child.workflowId, child.firstExecutionRunId, scenario.approvals ?? {}, `drill:${input.drill_id}`, POLL_MS);
  let outcome: string;
  let run: RunReport | undefined;
  let endedAt: number;
  try {
    run = (await child.result()) as RunReport;
    outcome = run.outcome;
    endedAt = Date.parse(run.ended_at);
  } catch (err) {
    outcome = `refused: ${failureOf(err).type}`;
    endedAt = Date.now();
  }
  await answering;

  const expected = expectedText(scenario);
  const passed = drillPassed(scenario, outcome, run?.summary);
  // Detected: the run finished its pre-checks and knew what to do; recovered: it ended as expected (or was refused, as expected).
  const lastPreCheck = run?.steps.filter((s) => s.phase === 'pre_checks' && s.ended_at).pop();
  const report: DrillReport = {
    drill_id: input.drill_id,
    runbook: input.runbook,
    scenario: scenario.name,
    node_id: input.node_id,
    expected,
    outcome,
    passed,
    time_to_detect_ms: lastPreCheck?.ended_at ? Date.parse(lastPreCheck.ended_at) - injectedAt : null,
    time_to_recover_ms: passed ? endedAt - injectedAt : null,
    run: run ?? null,
    started_at: new Date(startedAt).toISOString(),
    ended_at: new Date().toISOString(),
  };
  await drill.recordDrillReport(workflowId, runId, report);
  return report;
}
