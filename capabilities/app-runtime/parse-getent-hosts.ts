/**
 * Parser for `getent hosts <name>`: `ADDRESS  CANONICAL [ALIAS...]` per line, exit
 * status 2 and no output when the name does not resolve. Pure.
 */
export interface Resolution {
  address: string;
  names: string[];
}

export function parseGetentHosts(stdout: string): Resolution[] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 2 && fields[0] !== '')
    .map(([address, ...names]) => ({ address: address!, names }));
}

/** The address `name` resolves to, or null (getent's exit 2, or no line naming it). */
export function resolvedAddress(stdout: string, exitCode: number, name: string): string | null {
  if (exitCode !== 0) return null;
  return parseGetentHosts(stdout).find((r) => r.names.includes(name))?.address ?? null;
}
