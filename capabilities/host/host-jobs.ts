import { activityInfo, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import type { HostAction } from '../../domain/host-roles';
import type { StepContext } from '../../domain/step-context';
import { abortError, activityCancellationSignal, isWorkerShutdown } from '../cancellation';
import type { EvidenceStore } from '../evidence/evidence-store';
import type { HostAccess } from './host-access';
import { stepLogger } from '../observability';
import type { CommandResult } from './ssh-executor';
import { toCommandLine } from './shell-quote';
import {
  isAlreadyLoaded,
  parseUnitState,
  readOutputCommand,
  resetFailedUnitCommand,
  showUnitCommand,
  startUnitCommand,
  stopUnitCommand,
  unitNameFor,
  type UnitState,
} from './systemd-unit';

export interface HostJob {
  /** Names the job within its step (e.g. "diag_r3"); part of the idempotency key. */
  name: string;
  action: HostAction;
  argv: string[];
  /** How long the command may run on the host, counted from its start; then it is stopped. */
  timeoutMs: number;
  /** Status poll period; each poll heartbeats. */
  pollMs: number;
  /**
   * A finished result that is a passing refusal rather than the command's answer
   * (e.g. "another diag is running"): returns why. Such a result is not kept,
   * the unit is cleared, and the attempt fails retryably.
   */
  transient?: (result: CommandResult) => string | undefined;
}

/** What a retried attempt finds in the evidence when the job's result was already recorded (AuthorizedHost.record's data). */
type RecordedResult = Omit<CommandResult, 'disconnected'>;

/** Progress kept in heartbeat details, so a later attempt measures the timeout from the job's real start. */
interface JobProgress {
  unit: string;
  started_at: number;
  state: UnitState['kind'];
}

/**
 * Runs a long or mutating host command as a detached job: a transient systemd
 * unit named from the step's idempotency key. Start, or reattach when the unit
 * already exists; poll with heartbeats; collect the output; record the result
 * as evidence (the commit point); clear the unit. A retry after a crash, a
 * worker restart or a dropped connection finds the recorded result or the
 * running unit, so the command runs once. A worker shutdown leaves the job
 * running for the next worker; a cancel stops it.
 */
export class HostJobs {
  constructor(private readonly deps: { hosts: HostAccess; evidence: EvidenceStore; logger: Logger }) {}

  async run(ctx: StepContext, job: HostJob): Promise<CommandResult> {
    const { hosts, evidence } = this.deps;
    const key = `${ctx.idempotency_key}/job/${job.name}`;
    const recorded = await evidence.findByKey<RecordedResult>(key);
    if (recorded) return { ...recorded, disconnected: false };

    const unit = unitNameFor(key, ctx.step);
    const host = hosts.authorize(ctx, job.action);
    const log = stepLogger(this.deps.logger, host.ctx).child({ unit });
    const previous = previousProgress(unit);
    const startedAt = previous?.started_at ?? Date.now();

    let state = await this.state(ctx, job, unit);
    if (state.kind === 'absent') {
      const started = await hosts.run(ctx, job.action, startUnitCommand(unit, job.argv), { evidenceSuffix: `${job.name}_start` });
      if (started.exit_code !== 0 && !isAlreadyLoaded(started.stderr)) {
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `could not start ${job.argv[0]} as unit ${unit} (exit ${started.exit_code}): ${started.stderr.trim().slice(0, 300)}`,
          nonRetryable: true,
        });
      }
      log.info({ argv: job.argv }, previous ? 'host job started again (its unit was gone)' : 'host job started');
      state = await this.state(ctx, job, unit);
    } else {
      log.info({ state: state.kind }, 'reattached to a running host job');
    }

    const signal = activityCancellationSignal();
    while (state.kind === 'running' || state.kind === 'other' || state.kind === 'absent') {
      if (state.kind === 'absent') {
        // Started, then gone without a result: the host rebooted or someone stopped it.
        throw ApplicationFailure.create({
          type: ErrorType.CommandFailed,
          message: `unit ${unit} vanished before it finished (host rebooted or unit stopped); starting it again`,
        });
      }
      const elapsed = Date.now() - startedAt;
      if (elapsed > job.timeoutMs) {
        await this.clear(ctx, job, unit, stopUnitCommand(unit));
        throw ApplicationFailure.create({
          type: ErrorType.CommandTimeout,
          message: `${toCommandLine(job.argv)} did not finish within ${job.timeoutMs} ms on ${host.ctx.host_name}; unit ${unit} stopped`,
          nonRetryable: true,
        });
      }
      heartbeat({ unit, started_at: startedAt, state: state.kind } satisfies JobProgress);
      try {
        await sleep(Math.min(job.pollMs, Math.max(1, job.timeoutMs - elapsed)));
      } catch (err) {
        throw await this.interrupted(ctx, job, unit, signal, err);
      }
      state = await this.pollTolerantly(ctx, job, unit, state, log);
    }

    const result = await this.collect(ctx, job, unit, state, startedAt);
    const finishedUnit = state.kind === 'exited' && !state.failed ? stopUnitCommand(unit) : resetFailedUnitCommand(unit);
    const refusal = job.transient?.(result);
    if (refusal) {
      await this.clear(ctx, job, unit, finishedUnit);
      throw ApplicationFailure.create({ type: ErrorType.HostBusy, message: refusal });
    }
    await host.record(key, result, true);
    await this.clear(ctx, job, unit, finishedUnit);
    log.info({ exit_code: result.exit_code, duration_ms: result.duration_ms }, 'host job finished');
    return result;
  }

  private async state(ctx: StepContext, job: HostJob, unit: string): Promise<UnitState> {
    const res = await this.deps.hosts.run(ctx, job.action, showUnitCommand(unit), { record: false });
    if (res.exit_code !== 0) {
      throw ApplicationFailure.create({
        type: ErrorType.CommandFailed,
        message: `systemctl show ${unit} failed (exit ${res.exit_code}): ${res.stderr.trim().slice(0, 300)}`,
        nonRetryable: true,
      });
    }
    return parseUnitState(res.stdout);
  }

  /** A dropped connection while the job runs is not the job failing: keep polling until the deadline. */
  private async pollTolerantly(ctx: StepContext, job: HostJob, unit: string, last: UnitState, log: Logger): Promise<UnitState> {
    try {
      return await this.state(ctx, job, unit);
    } catch (err) {
      if (err instanceof ApplicationFailure && (err.type === ErrorType.HostUnreachable || err.type === ErrorType.CommandTimeout)) {
        log.warn({ err: err.message }, 'host job status unavailable; still waiting');
        return last;
      }
      throw err;
    }
  }

  private async collect(ctx: StepContext, job: HostJob, unit: string, state: UnitState, startedAt: number): Promise<CommandResult> {
    const read = async (stream: 'out' | 'err') => {
      const res = await this.deps.hosts.run(ctx, job.action, readOutputCommand(unit, stream), { record: false });
      return { text: res.exit_code === 0 ? res.stdout : '', truncated: res.truncated };
    };
    const out = await read('out');
    const err = await read('err');
    const killed = state.kind === 'killed' ? `\n[killed by signal ${state.signal}]` : '';
    return {
      command: toCommandLine(job.argv),
      exit_code: state.kind === 'exited' ? state.exit_code : null,
      stdout: out.text,
      stderr: err.text + killed,
      truncated: out.truncated || err.truncated,
      duration_ms: Date.now() - startedAt,
      disconnected: false,
    };
  }

  /**
   * The attempt was interrupted while the job runs. Worker shutdown: leave the
   * job running and fail the attempt retryably, so the next worker reattaches.
   * A real cancel: stop the job on the host, then report the cancellation.
   */
  private async interrupted(ctx: StepContext, job: HostJob, unit: string, signal: AbortSignal | undefined, err: unknown): Promise<Error> {
    if (isWorkerShutdown(signal)) return abortError(signal, `waiting for unit ${unit}`);
    if (err instanceof CancelledFailure || signal?.aborted) {
      await this.clear(ctx, job, unit, stopUnitCommand(unit));
      return abortError(signal, `waiting for unit ${unit}`);
    }
    return err instanceof Error ? err : new Error(String(err));
  }

  /** Best effort: a unit left behind is untidy, not wrong; it runs outside the activity's cancellation. */
  private async clear(ctx: StepContext, job: HostJob, unit: string, argv: string[]): Promise<void> {
    try {
      await this.deps.hosts.run(ctx, job.action, argv, { record: false, signal: new AbortController().signal });
    } catch (err) {
      stepLogger(this.deps.logger, ctx).warn({ unit, err: (err as Error).message }, 'could not clear host job unit');
    }
  }
}

function previousProgress(unit: string): JobProgress | undefined {
  try {
    const details = activityInfo().heartbeatDetails as JobProgress | undefined;
    return details?.unit === unit ? details : undefined;
  } catch {
    return undefined; // outside an activity
  }
}
