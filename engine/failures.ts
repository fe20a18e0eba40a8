import { ActivityFailure, ApplicationFailure, ChildWorkflowFailure, TemporalFailure } from '@temporalio/workflow';

/** The typed failure behind an error: the activity's (or child run's) ApplicationFailure type when there is one. */
export function failureOf(err: unknown): { type: string; message: string } {
  if ((err instanceof ActivityFailure || err instanceof ChildWorkflowFailure) && err.cause instanceof ApplicationFailure) {
    return { type: err.cause.type ?? 'ApplicationFailure', message: err.cause.message };
  }
  if (err instanceof ApplicationFailure) return { type: err.type ?? 'ApplicationFailure', message: err.message };
  if (err instanceof ActivityFailure && err.cause) return { type: err.cause.name, message: err.cause.message };
  if (err instanceof TemporalFailure) return { type: err.name, message: err.message };
  if (err instanceof Error) return { type: err.name, message: err.message };
  return { type: 'Unknown', message: String(err) };
}
