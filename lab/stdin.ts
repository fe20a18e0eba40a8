/**
 * Which exec'd command lines read the SSH session's stdin: a program handed
 * /dev/stdin (install -m 0600 /dev/stdin PATH, openssl x509 -in /dev/stdin) or
 * tee. The lab starts those once the client has sent EOF, with what it sent; it
 * starts every other command at once, as before (their stdin is never read).
 */
import { parseCommandLine } from './shell';

/** The most stdin the lab keeps for one command; the rest is dropped (a config file or a key is far smaller). */
export const MAX_STDIN_BYTES = 4 * 1024 * 1024;

export function readsStdin(command: string): boolean {
  const parsed = parseCommandLine(command);
  if (!parsed.ok) return false;
  const argv = parsed.argv;
  const program = (argv[0] ?? '').split('/').pop();
  return argv.includes('/dev/stdin') || program === 'tee';
}
