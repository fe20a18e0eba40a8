/**
 * Turns an SSH exec command line into argv the way a shell would for plain words
 * and quotes, refusing everything else (the engine never sends shell syntax).
 */
import { parse } from 'shell-quote';

export type ParsedCommand = { ok: true; argv: string[] } | { ok: false; message: string };

const SENTINEL = { op: 'variable' } as const;

export function parseCommandLine(command: string): ParsedCommand {
  let tokens: ReturnType<typeof parse>;
  try {
    // Variables are returned as an object instead of being expanded to "".
    tokens = parse(command, () => SENTINEL);
  } catch (err) {
    return { ok: false, message: `lab: cannot parse command: ${(err as Error).message}` };
  }
  const argv: string[] = [];
  for (const t of tokens) {
    if (typeof t !== 'string' || t.includes('`')) {
      return {
        ok: false,
        message: 'lab: refusing shell syntax (operators, redirections, globs, variables, substitutions and comments are not supported)',
      };
    }
    argv.push(t);
  }
  if (argv.length === 0) return { ok: false, message: 'lab: empty command' };
  return { ok: true, argv };
}
