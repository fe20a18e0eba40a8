import { Command, Option } from 'commander';
import type { RunDetail, RunListing } from '../api-types';
import { ApiError, ApiUnreachable, type ApiClient } from '../api-client';
import { contextOf, runPath } from '../context';
import { BadOutcome } from '../errors';
import { parseDuration, parsePositiveInt } from '../option-parsers';
import { age, type Output } from '../output';
import { runEvents } from '../run-events';
import { endedBadly, isClosed, printRun } from '../run-view';

/** The API's execution statuses for `--status`. */
const STATUSES = ['running', 'completed', 'failed', 'canceled', 'terminated', 'timed_out', 'continued_as_new'];

export function runsCommand(): Command {
  const runs = new Command('runs').description('list, show and watch runbook runs');

  runs
    .command('ls')
    .description('list runs, newest first (GET /api/v1/runs)')
    .option('--runbook <name>', 'only runs of this runbook')
    .option('--node <id>', 'only runs on this node')
    .addOption(new Option('--status <status>', 'only runs in this execution status').choices(STATUSES))
    .option('--awaiting-approval', 'only runs waiting for an approval')
    .option('--limit <n>', 'at most n runs (1-1000)', parsePositiveInt, 100)
    .action(async (opts: { runbook?: string; node?: string; status?: string; awaitingApproval?: boolean; limit: number }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const answer = await api.get<{ runs: RunListing[] }>('/api/v1/runs', {
        runbook: opts.runbook,
        node_id: opts.node,
        status: opts.status,
        awaiting_approval: opts.awaitingApproval ? 'true' : undefined,
        limit: opts.limit,
      });
      if (out.json) return out.printJson(answer);
      out.table(answer.runs, [
        { header: 'WORKFLOW ID', value: (r) => r.workflow_id },
        { header: 'RUN', value: (r) => r.run_id.slice(0, 8) },
        { header: 'RUNBOOK', value: (r) => r.runbook },
        { header: 'NODE', value: (r) => r.node_id },
        { header: 'STATUS', value: (r) => r.execution_status },
        { header: 'PHASE', value: (r) => r.phase },
        { header: 'APPROVAL', value: (r) => (r.awaiting_approval ? 'waiting' : '') },
        { header: 'AGE', value: (r) => age(r.started_at) },
      ]);
    });

  runs
    .command('show')
    .description('phase, current step, pending approval, steps and outcome of a run (GET /api/v1/runs/{id})')
    .argument('<workflow-id>', 'e.g. gpu-fault/dev-gpu-1')
    .action(async (workflowId: string, _opts: unknown, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      const run = await api.get<RunDetail>(runPath(workflowId));
      if (out.json) return out.printJson(run);
      printRun(out, run);
    });

  runs
    .command('watch')
    .description('print each phase, step and approval change until the run closes; exit 6 if it failed or was cancelled')
    .argument('<workflow-id>', 'e.g. gpu-fault/dev-gpu-1')
    .option('--interval <duration>', 'time between reads', parseDuration, 2000)
    .action(async (workflowId: string, opts: { interval: number }, cmd: Command) => {
      const { api, out } = contextOf(cmd);
      await watchRun(api, out, workflowId, opts.interval);
    });

  return runs;
}

/**
 * Reads the run every `intervalMs` and prints what changed, until it closes. A run
 * that is briefly unreadable (the API restarting, no worker to answer the status
 * query) is read again; one that stays unreadable for a minute ends the watch. A
 * 500 is a bug, not a pause, and ends it at once.
 */
export async function watchRun(api: ApiClient, out: Output, workflowId: string, intervalMs: number): Promise<void> {
  const giveUpAfterMs = Math.max(60_000, 5 * intervalMs);
  let last: RunDetail | undefined;
  let failingSince: number | undefined;
  for (;;) {
    let run: RunDetail;
    try {
      run = await api.get<RunDetail>(runPath(workflowId));
      failingSince = undefined;
    } catch (err) {
      if (!isTransient(err)) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > giveUpAfterMs) throw err;
      out.note(`${clock()} (cannot read the run: ${err.code}: ${err.message}; trying again)`);
      await sleep(intervalMs);
      continue;
    }
    if (!last) out.note(`watching ${run.workflow_id} (run ${run.run_id}) every ${intervalMs} ms`);
    for (const e of runEvents(last, run)) {
      if (out.json) out.printJsonLine({ at: new Date().toISOString(), workflow_id: run.workflow_id, kind: e.kind, ...e.data, text: e.text });
      else out.line(`${clock()}  ${e.text}`);
    }
    last = run;
    if (isClosed(run)) {
      if (endedBadly(run)) {
        throw new BadOutcome(
          'run_ended_badly',
          `${run.workflow_id} ended ${run.execution_status}${run.status?.outcome ? ` (outcome ${run.status.outcome})` : ''}`,
        );
      }
      return;
    }
    await sleep(intervalMs);
  }
}

function isTransient(err: unknown): err is ApiError | ApiUnreachable {
  if (err instanceof ApiUnreachable) return true;
  return err instanceof ApiError && [429, 502, 503, 504].includes(err.status);
}

function clock(): string {
  return new Date().toISOString().slice(11, 19);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
