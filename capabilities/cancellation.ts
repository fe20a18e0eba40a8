import { Context } from '@temporalio/activity';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import { ErrorType } from '../domain/errors';

/** The reason the SDK gives when the worker itself is stopping, not the workflow. */
const WORKER_SHUTDOWN = 'WORKER_SHUTDOWN';

/** The current activity's cancellation signal; undefined outside an activity (tests, scripts). */
export function activityCancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** True when the abort means "this worker is going away", so the work must be retried elsewhere. */
export function isWorkerShutdown(signal: AbortSignal | undefined): boolean {
  const reason: unknown = signal?.reason;
  return reason instanceof CancelledFailure && reason.message === WORKER_SHUTDOWN;
}

/**
 * What an activity throws when its signal aborts. A worker shutdown is not the
 * step's failure: it becomes a retryable failure so the next worker runs the
 * attempt again (and reattaches to anything still running on the host). A real
 * cancel is rethrown as the SDK's CancelledFailure, so the activity ends
 * cancelled and the workflow sees a cancellation, never "the command failed".
 */
export function abortError(signal: AbortSignal | undefined, what: string): Error {
  if (isWorkerShutdown(signal)) {
    return ApplicationFailure.create({ type: ErrorType.WorkerShutdown, message: `${what} interrupted by worker shutdown; retried on the next worker` });
  }
  const reason: unknown = signal?.reason;
  return reason instanceof CancelledFailure ? reason : new CancelledFailure(`${what} cancelled`);
}
