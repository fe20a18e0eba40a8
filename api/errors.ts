import type { ZodError } from 'zod';

/** An error the API answers with a status and the shared JSON envelope. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: unknown = {},
    /** Extra response headers, e.g. Retry-After on a 503. */
    readonly headers: Record<string, string> = {},
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

/** Not the caller's fault and not permanent: a dependency did not answer. */
export function unavailable(code: 'temporal_unavailable' | 'worker_unavailable' | 'database_unavailable', message: string, details: unknown = {}): ApiError {
  return new ApiError(503, code, message, details, { 'retry-after': '1' });
}

/** Error codes and SQLSTATE classes of node-postgres that mean the database could not be reached or went away. */
const PG_CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', '57P01', '57P02', '57P03']);

/** True when `err` says PostgreSQL is down or unreachable, rather than that a statement was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  // Duck-typed: socket errors are made by Node's own realm, where `instanceof Error` can fail (jest, vm).
  if (typeof err !== 'object' || err === null) return false;
  const { code, message } = err as { code?: unknown; message?: unknown };
  if (typeof code === 'string' && (PG_CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
  // pg-pool's connectionTimeoutMillis, pg's query_timeout and a server that closed the socket.
  return typeof message === 'string' && /timeout exceeded when trying to connect|Query read timeout|Connection terminated/i.test(message);
}
