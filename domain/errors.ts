/**
 * Failure types shared by activities and workflows. Activities throw
 * ApplicationFailure with one of these as `type`; workflows branch on the type,
 * never on message text. The non-retryable ones are listed in every activity's
 * retry policy so a wrong input is not retried into a bigger problem.
 */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  HostRoleViolation: 'HostRoleViolation',
  /** A drill would act on a host the inventory does not mark drillable. */
  NotDrillable: 'NotDrillable',
  HostKeyMismatch: 'HostKeyMismatch',
  HostNotInInventory: 'HostNotInInventory',
  NotFound: 'NotFound',
  CommandFailed: 'CommandFailed',
  HostUnreachable: 'HostUnreachable',
  PlatformApiError: 'PlatformApiError',
  /** No replica of the orchestrator answered, or one answered with an error. */
  OrchestratorApiError: 'OrchestratorApiError',
  /** Prometheus or Alertmanager did not answer, or answered with an error or a body of another shape. */
  AlertingApiError: 'AlertingApiError',
  /** The orchestrator's SQL database refused or failed a statement (non-retryable when it is a matter of privileges). */
  OrchestratorDbError: 'OrchestratorDbError',
  DrainTimeout: 'DrainTimeout',
  RebootTimeout: 'RebootTimeout',
  /** A host command ran past the time the step gives it; it was stopped on the host. */
  CommandTimeout: 'CommandTimeout',
  /** The host refused the command for now (e.g. another diag runs); retried with backoff. */
  HostBusy: 'HostBusy',
  /** The worker stopped mid-attempt; the attempt is retried on the next worker. Never a step failure. */
  WorkerShutdown: 'WorkerShutdown',
  /** nvidia-smi -r refused (GPU in use, lost, unsupported); the runbook reboots instead. */
  ResetRefused: 'ResetRefused',
  /** dcgmi diag could not run at all (not a failing diag); the run holds the node for a person. */
  DiagUnavailable: 'DiagUnavailable',
  /** A package step (an orchestrator release) failed on a host; the runbook rolls back, it does not retry it. */
  InstallFailed: 'InstallFailed',
  /**
   * Loki or Tempo could not be read: unreachable, timed out or 5xx (retryable), or it refused the
   * request (a LogQL syntax error, a bad trace id: non-retryable, the same query fails again).
   */
  ObservabilityApiError: 'ObservabilityApiError',
  /** Output was cut at the size cap, so what was read cannot be trusted as complete. */
  OutputTruncated: 'OutputTruncated',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorType.InvalidInput,
  ErrorType.HostRoleViolation,
  ErrorType.NotDrillable,
  ErrorType.HostKeyMismatch,
  ErrorType.HostNotInInventory,
  ErrorType.NotFound,
];
