/**
 * Failure types shared by activities and workflows. Activities throw
 * ApplicationFailure with one of these as `type`; workflows branch on the type,
 * never on message text. The non-retryable ones are listed in every activity's
 * retry policy so a wrong input is not retried into a bigger problem.
 */
export const ErrorType = {
  InvalidInput: 'InvalidInput',
  HostRoleViolation: 'HostRoleViolation',
  HostKeyMismatch: 'HostKeyMismatch',
  HostNotInInventory: 'HostNotInInventory',
  NotFound: 'NotFound',
  CommandFailed: 'CommandFailed',
  HostUnreachable: 'HostUnreachable',
  PlatformApiError: 'PlatformApiError',
  DrainTimeout: 'DrainTimeout',
  RebootTimeout: 'RebootTimeout',
} as const;
export type ErrorType = (typeof ErrorType)[keyof typeof ErrorType];

export const NON_RETRYABLE_ERROR_TYPES: string[] = [
  ErrorType.InvalidInput,
  ErrorType.HostRoleViolation,
  ErrorType.HostKeyMismatch,
  ErrorType.HostNotInInventory,
  ErrorType.NotFound,
];
