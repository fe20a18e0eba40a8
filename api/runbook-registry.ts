import type { RunbookDefinition } from '../domain/runbook-definition';
import { RUNBOOKS } from '../runbooks/registry';

const BY_NAME: ReadonlyMap<string, RunbookDefinition> = new Map(RUNBOOKS.map((d) => [d.name, d]));

/**
 * The runbook with this name. A Map, not an object, so names such as `__proto__` or
 * `constructor` are just unknown names rather than inherited properties.
 */
export function findRunbook(name: string): RunbookDefinition | undefined {
  return BY_NAME.get(name);
}

export function runbookNames(): string[] {
  return [...BY_NAME.keys()];
}
