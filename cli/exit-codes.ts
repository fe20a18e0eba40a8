/**
 * What a script can branch on. One code per kind of problem, not per HTTP status:
 * "try again later" (5) is a different decision from "fix the request" (1).
 */
export const EXIT = {
  ok: 0,
  /** Bad usage or input the API refused as invalid (400, 422). */
  usage: 1,
  /** No token, a token the API does not accept, or a role it lacks (401, 403). */
  auth: 2,
  /** The run, drill, token or scope does not exist (404). */
  notFound: 3,
  /** The request does not fit the current state: nothing pending, already decided, not running (409). */
  conflict: 4,
  /** The API, Temporal, a worker or the database did not answer (5xx, 429, connection refused, timeout). */
  unavailable: 5,
  /** The command worked and the answer is bad: a watched run ended failed or cancelled, a broken audit chain. */
  badOutcome: 6,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export function exitCodeForStatus(status: number): ExitCode {
  if (status === 401 || status === 403) return EXIT.auth;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 429 || status >= 500) return EXIT.unavailable;
  return EXIT.usage;
}

/** The epilogue of `--help`; docs/cli.md has the same table. */
export const EXIT_CODES_HELP = `
Exit codes:
  0  ok
  1  usage error or invalid input (HTTP 400, 422)
  2  not authenticated or not allowed (HTTP 401, 403; no token)
  3  not found (HTTP 404)
  4  conflict with the current state, e.g. nothing pending (HTTP 409)
  5  API or a dependency unavailable (HTTP 5xx, 429, connection refused, timeout)
  6  a watched run ended failed or cancelled; audit verify found a broken chain

Errors go to stderr as "error: <code>: <message>".`;
