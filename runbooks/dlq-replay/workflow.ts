import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { ArtifactPresence, ModelArtifactActivities } from '../../capabilities/orchestrator/model-artifact-activities';
import type { DlqActivities, DlqSample } from '../../capabilities/orchestrator/dlq-activities';
import type { OrchestratorActivities } from '../../capabilities/orchestrator/orchestrator-activities';
import { orchestratorRequests } from '../../capabilities/orchestrator/requests';
import { CHECKED_CAUSES, isCheckedCause, mainStreamOf, replayedKey, REPLAY_OF_FIELD, statArtifactCommand, type CauseGroup } from '../../domain/dlq';
import { ORCHESTRATOR_GROUP } from '../../domain/orchestrator';
import type { PlannedAction } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput } from '../../engine/target';
import { DlqReplayInputSchema, RUNBOOK_DLQ_REPLAY, dlqReplayRequestSignal, type DlqReplayInput, type DlqReplayRequest } from './input';

const MAINTENANCE_GAUGE = 'gpu_orchestrator_maintenance_mode';

const acts = {
  orchestrator: proxyActivities<OrchestratorActivities>(ActivityOptionSets.platformCall),
  // Single Redis commands and scripts: as quick as an API call.
  dlq: proxyActivities<DlqActivities>(ActivityOptionSets.platformCall),
  artifacts: proxyActivities<ModelArtifactActivities>(ActivityOptionSets.hostRead),
};

/**
 * dlq-replay: seed 004's "Recover from DLQ storm", without its two traps (the group's
 * position is never moved: no XGROUP SETID; every replay is deduplicated).
 *
 * pre-checks: the orchestrator is not drained by someone else, a bounded sample of the
 * DLQ grouped by cause, each cause with a check of its own checked fixed (a missing
 * model artifact: present again on every pool host, read over SSH) → procedure: pause
 * processing (maintenance drain), an approval for causes no check covers, replay one
 * entry as a canary, resume processing → verify the canary processed, then a
 * rate-limited batch that stops at the error threshold; each entry leaves the DLQ only
 * once its replay was processed → or stop, leaving the DLQ entries where they are.
 */
export async function dlqReplay(request: DlqReplayRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(DlqReplayInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_DLQ_REPLAY, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(dlqReplayRequestSignal, (req) => run.queueEvidence('request', 'alert', `replay requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => new DlqReplayRun(run, input).replay());
}

interface CauseVerdict {
  cause: string;
  /** What was checked, or null when no check covers the cause (a person decides). */
  check: string | null;
  fixed: boolean | null;
  detail: string;
}

class DlqReplayRun {
  private readonly waits: DlqActivities;
  private readonly batch: DlqActivities;

  constructor(
    private readonly run: RunbookRun,
    private readonly input: DlqReplayInput,
  ) {
    this.waits = proxyActivities<DlqActivities>(ActivityOptionSets.boundedWait(input.settle_timeout, input.poll_interval));
    // The batch's own length at its rate, and then its settle time.
    const replayMs = Math.ceil((input.batch_size / input.rate_per_second) * 1000);
    this.batch = proxyActivities<DlqActivities>(ActivityOptionSets.boundedWait(replayMs + input.settle_timeout, input.poll_interval));
  }

  async replay(): Promise<RunbookResult> {
    const { run, input } = this;
    const dlq = input.dlq_stream;

    // ---- pre-checks: read only ----
    run.phase('pre_checks');
    const mode = await run.step('read_maintenance_mode', (ctx) => acts.orchestrator.readMetrics(ctx, input.cluster, [MAINTENANCE_GAUGE]), {
      describe: (s) => (s[0]?.value === 1 ? 'drain' : 'normal'),
    });
    if (mode[0]?.value === 1) {
      return {
        outcome: 'escalated',
        summary:
          'the orchestrator is already in maintenance drain (another change, or an earlier replay that was stopped): replaying needs processing back; ' +
          'set maintenance normal once whoever drained it is done, then run again',
      };
    }
    const sample = await run.step('sample_dlq', (ctx) => acts.dlq.readDlqSample(ctx, input.cluster, dlq, input.sample_size), {
      describe: (s) =>
        `${s.length} entr${s.length === 1 ? 'y' : 'ies'}; sample of ${s.entries.length}: ${s.causes.map((c) => `${c.cause} ×${c.count}`).join(', ') || 'none'}`,
    });
    if (sample.length === 0) return { outcome: 'nothing_to_replay', summary: `${dlq} is empty` };
    const verdicts = await this.checkCauses(sample.causes);
    const notFixed = verdicts.filter((v) => v.fixed === false);
    const unchecked = verdicts.filter((v) => v.fixed === null);

    const stop = await planCheckpoint(run, this.plan(sample, verdicts), input.plan_hash);
    if (stop) return stop;
    if (notFixed.length) {
      return {
        outcome: 'root_cause_not_fixed',
        summary: `not replayed, nothing changed: ${notFixed.map((v) => `${v.cause}: ${v.detail}`).join('; ')}. Fix it, then run again`,
      };
    }

    // ---- procedure: pause, the gate for unchecked causes, the canary ----
    run.phase('procedure');
    await run.step('pause_processing', (ctx) => acts.orchestrator.setMaintenance(ctx, input.cluster, 'drain'), { describe: () => 'maintenance drain' });
    // A run that fails or is cancelled from here on gives processing back as it found it.
    run.onRollback('pause_processing', async () => {
      await run.step('undo_pause_processing', (ctx) => acts.orchestrator.setMaintenance(ctx, input.cluster, 'normal'), {
        describe: () => 'maintenance normal',
      });
    });
    if (unchecked.length) {
      const decision = await run.approval(
        'approve_replay',
        `Replay ${dlq}? No check covers ${unchecked.map((v) => v.cause).join(', ')}: is the root cause fixed?`,
        { dlq, length: sample.length, causes: sample.causes, verdicts, sample: sample.entries.slice(0, 10) },
        input.approval_timeout,
        { kind: 'generic', disruption: `re-adds up to ${input.batch_size + 1} jobs to ${mainStreamOf(dlq)}` },
      );
      if (decision.decision !== 'approve') {
        await this.resumeProcessing('resume_normal_processing');
        return {
          outcome: 'escalated',
          summary: `replay not approved (${decision.decision}${decision.actor ? ` by ${decision.actor}` : ''}); nothing replayed, processing resumed`,
        };
      }
    }
    const causes = verdicts.map((v) => v.cause);
    const selection = await run.step('select_entries', (ctx) => acts.dlq.selectReplay(ctx, input.cluster, dlq, input.batch_size + 1, causes), {
      describe: (s) =>
        `${s.ids.length} to replay${s.superseded.length ? `; ${s.superseded.length} replayed before and dead-lettered again (left)` : ''}${s.other_causes ? `; ${s.other_causes} of other causes (left)` : ''}`,
    });
    const [canary, ...rest] = selection.ids;
    if (canary === undefined) {
      await this.resumeProcessing('resume_normal_processing');
      return { outcome: 'nothing_to_replay', summary: `no entry of ${causes.join(', ')} left to replay in ${dlq}; processing resumed` };
    }
    const replayed = await run.step('replay_canary', (ctx) => acts.dlq.replayEntry(ctx, input.cluster, dlq, canary), {
      describe: (r) => (r.replay_id ? `${canary} → ${r.replay_id} (${r.result})` : `${canary} left the DLQ before its replay`),
    });
    if (replayed.replay_id === null) {
      await this.resumeProcessing('resume_normal_processing');
      return { outcome: 'escalated', summary: `the canary ${canary} left ${dlq} before it was replayed (someone else is working on it); processing resumed` };
    }
    await this.resumeProcessing('resume_processing');

    // ---- verify the canary, then the batch ----
    run.phase('verify');
    const seen = await run.step(
      'observe_canary',
      (ctx) => this.waits.waitForReplay(ctx, input.cluster, dlq, replayed.replay_id!, input.settle_timeout, input.poll_interval),
      { describe: (w) => `${replayed.replay_id} ${w.state} after ${w.waited_ms} ms` },
    );
    if (seen.state === 'dead_lettered') {
      return {
        outcome: 'root_cause_not_fixed',
        summary: `the canary ${canary} (replayed as ${replayed.replay_id}) was dead-lettered again: the cause is not fixed. Nothing else replayed; its DLQ entries stay`,
      };
    }
    if (seen.state !== 'processed') {
      return {
        outcome: 'escalated',
        summary: `the canary ${canary} (replayed as ${replayed.replay_id}) is still ${seen.state} after ${seen.waited_ms} ms; nothing else replayed. Look at the orchestrator, then run again (the canary is never replayed twice)`,
      };
    }
    await run.step('remove_canary_from_dlq', (ctx) => acts.dlq.removeReplayed(ctx, input.cluster, dlq, canary), {
      describe: (r) => (r.removed ? `${canary} removed` : `${canary} kept: its replay is ${r.state}`),
    });
    if (rest.length === 0) {
      return { outcome: 'replayed', summary: `${canary} replayed and processed; it was the only entry to replay in ${dlq}` };
    }
    const result = await run.step(
      'replay_batch',
      (ctx) =>
        this.batch.replayBatch(ctx, input.cluster, dlq, rest, {
          rate_per_second: input.rate_per_second,
          error_threshold: input.error_threshold,
          settle_timeout_ms: input.settle_timeout,
          poll_ms: input.poll_interval,
        }),
      {
        describe: (b) =>
          `${b.replayed} replayed: ${b.processed.length} processed and removed, ${b.dead_lettered.length} dead-lettered again, ${b.unsettled.length} unsettled` +
          (b.stopped_at_threshold ? `; stopped at the error threshold (${b.not_started} not replayed)` : ''),
      },
    );
    const left = await run.step('read_dlq_after', (ctx) => acts.dlq.readDlqSample(ctx, input.cluster, dlq, 1), {
      describe: (s) => `${s.length} entr${s.length === 1 ? 'y' : 'ies'} left in ${dlq}`,
    });
    const counts = `canary and ${result.processed.length} of ${rest.length} processed and removed; ${result.dead_lettered.length} dead-lettered again, ${result.unsettled.length} unsettled; ${left.length} left in ${dlq}`;
    if (result.stopped_at_threshold) {
      return {
        outcome: 'stopped_at_error_threshold',
        summary: `stopped after ${result.dead_lettered.length} replays were dead-lettered again (threshold ${input.error_threshold}): ${counts}; ${result.not_started} not replayed`,
      };
    }
    if (result.unsettled.length) {
      return { outcome: 'escalated', summary: `${counts}: the unsettled ones stay in the DLQ until a rerun sees them processed (never replayed twice)` };
    }
    return { outcome: 'replayed', summary: counts };
  }

  /** The causes in the sample, each checked if a check covers it. */
  private async checkCauses(causes: CauseGroup[]): Promise<CauseVerdict[]> {
    const { run, input } = this;
    const verdicts: CauseVerdict[] = [];
    for (const group of causes) {
      if (!isCheckedCause(group.cause)) {
        verdicts.push({ cause: group.cause, check: null, fixed: null, detail: 'no check covers it' });
        continue;
      }
      const pools = await run.step('read_pools', (ctx) => acts.orchestrator.readPools(ctx, input.cluster), {
        describe: (ps) => ps.map((p) => `${p.pool_id} on ${p.node_id}`).join(', ') || 'no pools',
      });
      const missing: ArtifactPresence[] = [];
      for (const model of group.models) {
        const hosts = [...new Set(pools.filter((p) => p.model === model).map((p) => p.node_id))];
        if (hosts.length === 0) {
          missing.push({ node_id: '(no pool)', model, path: '', present: false, size: null });
          continue;
        }
        const found = await run.step('check_model_artifacts', (ctx) => acts.artifacts.readModelArtifacts(ctx, model, hosts), {
          describe: (as) => as.map((a) => `${a.model} on ${a.node_id}: ${a.present ? `${a.size} bytes` : 'missing'}`).join(', '),
        });
        missing.push(...found.filter((a) => !a.present));
      }
      verdicts.push({
        cause: group.cause,
        check: CHECKED_CAUSES[group.cause],
        fixed: missing.length === 0,
        detail: missing.length
          ? `still missing: ${missing.map((a) => (a.path ? `${a.path} on ${a.node_id}` : `${a.model} (no pool runs it)`)).join(', ')}`
          : `${group.models.join(', ')} present on every pool host`,
      });
    }
    return verdicts;
  }

  private async resumeProcessing(step: 'resume_processing' | 'resume_normal_processing'): Promise<void> {
    const { run, input } = this;
    await run.step(step, (ctx) => acts.orchestrator.setMaintenance(ctx, input.cluster, 'normal'), { describe: () => 'maintenance normal' });
    run.dropRollback('pause_processing');
  }

  private plan(sample: DlqSample, verdicts: CauseVerdict[]) {
    const { input } = this;
    const dlq = input.dlq_stream;
    const main = mainStreamOf(dlq);
    const notFixed = verdicts.filter((v) => v.fixed === false);
    const unchecked = verdicts.filter((v) => v.fixed === null);
    const end = (outcome: string, why: string): PlannedAction => ({ kind: 'end', outcome, why });
    const actions: PlannedAction[] = [
      ...verdicts.filter((v) => v.check).map((v) => ({ kind: 'check' as const, step: 'check_model_artifacts', what: `${v.cause}: ${v.detail}` })),
    ];
    if (notFixed.length) {
      actions.push(end('root_cause_not_fixed', notFixed.map((v) => `${v.cause}: ${v.detail}`).join('; ')));
      return { runbook: RUNBOOK_DLQ_REPLAY, node_id: null, actions };
    }
    const canary = sample.entries[0]?.id ?? '(first entry)';
    const [drain, normal] = [orchestratorRequests.setMaintenance('drain'), orchestratorRequests.setMaintenance('normal')];
    actions.push({ kind: 'http', step: 'pause_processing', ...drain });
    if (unchecked.length) {
      actions.push({
        kind: 'approval',
        step: 'approve_replay',
        question: `no check covers ${unchecked.map((v) => v.cause).join(', ')}: is the root cause fixed?`,
      });
    }
    actions.push(
      { kind: 'redis', step: 'select_entries', command: ['XRANGE', dlq, '-', '+', 'COUNT', String(input.batch_size + 1)], mutates: false },
      {
        kind: 'redis',
        step: 'replay_canary',
        // The script: unless HGET finds the entry replayed, XADD its job fields to the main stream and HSET the dedupe record.
        command: ['EVAL', 'replay-once', '3', replayedKey(dlq), dlq, main, canary, '<job fields>', REPLAY_OF_FIELD, canary],
        mutates: true,
      },
      { kind: 'http', step: 'resume_processing', ...normal },
      {
        kind: 'check',
        step: 'observe_canary',
        what: `XINFO GROUPS, XPENDING and the DLQ until the canary's replay is acknowledged by ${ORCHESTRATOR_GROUP} with no new dead letter (at most ${input.settle_timeout} ms)`,
      },
      { kind: 'redis', step: 'remove_canary_from_dlq', command: ['XDEL', dlq, canary], mutates: true },
      {
        kind: 'branch',
        step: 'replay_batch',
        on: `each replay at ${input.rate_per_second}/s (XADD once, XDEL once processed)`,
        cases: [
          {
            when: `fewer than ${input.error_threshold} dead-lettered again`,
            actions: [
              {
                kind: 'redis',
                step: 'replay_batch',
                command: ['EVAL', 'replay-once', '3', replayedKey(dlq), dlq, main, `<up to ${input.batch_size} entries>`],
                mutates: true,
              },
              { kind: 'redis', step: 'replay_batch', command: ['XDEL', dlq, '<each processed entry>'], mutates: true },
              end('replayed', 'every replay processed and removed from the DLQ'),
            ],
          },
          { when: `${input.error_threshold} dead-lettered again`, actions: [end('stopped_at_error_threshold', 'no further replays; failed entries stay')] },
        ],
      },
    );
    // The checks' commands as the activity runs them, for the approver's eye.
    for (const v of verdicts.filter((x) => x.check)) {
      const models = sample.causes.find((c) => c.cause === v.cause)?.models ?? [];
      for (const m of models)
        actions.unshift({ kind: 'check', step: 'check_model_artifacts', what: `${statArtifactCommand(m).join(' ')} on each pool host of ${m}` });
    }
    return { runbook: RUNBOOK_DLQ_REPLAY, node_id: null, actions };
  }
}
