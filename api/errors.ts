import type { ZodError } from 'zod';

/** An error the API answers with a status and the shared JSON envelope. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = {},
  ) {
    super(message);
  }
}

export function invalidInput(err: ZodError, what: string): ApiError {
  return new ApiError(400, 'invalid_input', `invalid ${what}`, {
    fields: err.issues.map((i) => ({ path: i.path.join('.') || '(root)', message: i.message })),
  });
}

export function envelope(code: string, message: string, details: unknown, correlationId: string) {
  return { error: { code, message, details }, correlation_id: correlationId };
}
