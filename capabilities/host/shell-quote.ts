/**
 * POSIX shell quoting. Arguments made only of characters no shell treats
 * specially pass through; anything else is wrapped in single quotes, the one
 * quoting form in which the shell interprets nothing.
 */
const SAFE_WORD = /^[A-Za-z0-9_@%+=:,./-]+$/;

export function shellQuote(arg: string): string {
  if (arg.includes('\0')) throw new Error('shell argument contains a NUL byte');
  if (SAFE_WORD.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

export function toCommandLine(argv: readonly string[]): string {
  if (argv.length === 0) throw new Error('empty command');
  return argv.map(shellQuote).join(' ');
}
