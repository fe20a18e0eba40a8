import {
  ApplicationFailure,
  condition,
  continueAsNew,
  isCancellation,
  log,
  ParentClosePolicy,
  setHandler,
  startChild,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import {
  countByState,
  fleetStatusQuery,
  thresholdReached,
  type FleetRunInput,
  type FleetRunReport,
  type FleetRunStatus,
  type TargetProgress,
} from '../domain/fleet-run';
import { MEMO_REQUESTED_BY } from '../domain/runbook';
import { runUserMetadata } from '../domain/run-summary';
import { SA } from '../domain/search-attributes';
import { failureOf } from './failures';

/**
 * Well below Temporal's limits: a run over 1,000 targets spreads over several
 * executions, each under 10,000 events.
 */
const MAX_HISTORY_EVENTS = 4_000;

/**
 * One runbook over a set of targets: a child workflow per target (the
 * runbook's own workflow id, so a target already being worked on is not run
 * twice), at most `max_concurrency` at once; past `max_errors` failed targets
 * no more start and those in flight finish. Each target's state and outcome is
 * in the `fleetStatus` query and the report. Long runs continue as new between
 * targets, carrying their progress.
 */
export async function fleetRun(input: FleetRunInput): Promise<FleetRunReport> {
  if (input.targets.length === 0) throw ApplicationFailure.nonRetryable('a fleet run needs at least one target', 'InvalidInput');
  const generation = input.generation ?? 0;
  const progress: TargetProgress[] = input.progress ?? input.targets.map((t) => ({ node_id: t.node_id, workflow_id: t.workflow_id, state: 'pending' }));
  let stopped = false;
  const status = (): FleetRunStatus => ({
    runbook: input.runbook,
    generation,
    counts: countByState(progress),
    stopped_at_threshold: stopped,
    targets: progress,
  });
  setHandler(fleetStatusQuery, status);
  if (generation === 0) {
    upsertSearchAttributes([
      { key: SA.Runbook, value: `fleet:${input.runbook}` },
      { key: SA.CorrelationId, value: input.correlation_id },
    ]);
  }

  let inFlight = 0;
  const failed = () => progress.filter((p) => p.state === 'failed').length;
  const runTarget = async (i: number) => {
    const target = input.targets[i]!;
    const p = progress[i]!;
    p.state = 'running';
    inFlight += 1;
    try {
      const child = await startChild(input.child_workflow_type, {
        workflowId: target.workflow_id,
        args: [target.input],
        ...(input.requested_by ? { memo: { [MEMO_REQUESTED_BY]: input.requested_by } } : {}),
        ...runUserMetadata({
          runbook: input.runbook,
          runMode: 'live',
          nodeId: target.node_id,
          trigger: `fleet run ${workflowInfo().workflowId} (${i + 1} of ${input.targets.length})`,
          requestedBy: input.requested_by,
        }),
        // A target's run finishes its own work even if this run is cancelled or continues as new.
        parentClosePolicy: ParentClosePolicy.ABANDON,
      });
      const report = (await child.result()) as { outcome?: string };
      p.state = 'completed';
      p.outcome = report?.outcome ?? 'completed';
    } catch (err) {
      if (isCancellation(err)) throw err;
      p.state = 'failed';
      p.outcome = failureOf(err).type;
      log.warn('fleet target failed', { runbook: input.runbook, node_id: p.node_id, error: failureOf(err).message });
    } finally {
      inFlight -= 1;
    }
  };

  const pending: Promise<void>[] = [];
  for (let i = 0; i < progress.length; i++) {
    if (progress[i]!.state !== 'pending') continue;
    await condition(() => inFlight < input.max_concurrency);
    if (thresholdReached(failed(), input.max_errors, progress.length)) {
      stopped = true;
      break;
    }
    if (workflowInfo().historyLength > MAX_HISTORY_EVENTS || workflowInfo().continueAsNewSuggested) {
      // Let the targets in flight finish here, then carry on in a fresh execution.
      await condition(() => inFlight === 0);
      await continueAsNew<typeof fleetRun>({ ...input, progress, generation: generation + 1 });
    }
    pending.push(runTarget(i));
  }
  await Promise.all(pending);
  if (thresholdReached(failed(), input.max_errors, progress.length)) stopped = true;
  for (const p of progress) if (p.state === 'pending') p.state = 'not_started';
  const report: FleetRunReport = {
    ...status(),
    outcome: stopped ? 'stopped_at_error_threshold' : failed() > 0 ? 'completed_with_errors' : 'completed',
  };
  log.info(`fleet run finished: ${report.outcome}`, { runbook: input.runbook, counts: report.counts });
  return report;
}
