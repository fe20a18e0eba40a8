import { EXIT, type ExitCode } from './exit-codes';

/** An error the CLI reports as `error: <code>: <message>` and exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: ExitCode,
    /** Indented lines printed after the first (the fields of an invalid input, a hint). */
    readonly notes: string[] = [],
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Bad flags or input, found before anything is sent. */
export class UsageError extends CliError {
  constructor(message: string, notes: string[] = []) {
    super('usage', message, EXIT.usage, notes);
    this.name = 'UsageError';
  }
}

/** The command did its job and what it found is bad (a run that failed, a broken chain). */
export class BadOutcome extends CliError {
  constructor(code: string, message: string, notes: string[] = []) {
    super(code, message, EXIT.badOutcome, notes);
    this.name = 'BadOutcome';
  }
}
