import { z } from 'zod';
import type { HostRole } from './host-roles';

/**
 * Plan mode: what a run would do after its pre-checks, without doing it. The
 * actions are data, built by the runbook from what its pre-checks read and from
 * the same command and request builders its activities use, so a plan can be
 * hashed, stored, shown to an approver and compared with the world later.
 */
export type PlannedAction =
  | PlannedSsh
  | PlannedHttp
  | { kind: 'sql'; step: string; statement: string; params: unknown[]; mutates: boolean }
  /** Redis commands (a script shows as its name and what it does atomically). */
  | { kind: 'redis'; step: string; command: string[]; mutates: boolean }
  /** Disruption slots leased from every scope the node belongs to, before it leaves service. */
  | { kind: 'lease'; step: string; node_id: string; scopes: string[] }
  | { kind: 'release'; step: string; node_id: string; scopes: string[] }
  | { kind: 'approval'; step: string; question: string }
  /** Reads whose exact commands depend on earlier results (a cursor, a boot id); never a change. */
  | { kind: 'check'; step: string; what: string }
  /** Polling until a condition holds, through `poll`, for at most `timeout_ms`. */
  | { kind: 'wait'; step: string; until: string; timeout_ms: number; poll: PlannedSsh | PlannedHttp }
  /** A point where what happens next depends on a result the plan cannot know yet. */
  | { kind: 'branch'; step: string; on: string; cases: PlanCase[] }
  /** The run ends here, with this outcome. */
  | { kind: 'end'; outcome: string; why: string };

/** A command over SSH; `mutates: false` for reads the procedure makes after the pre-checks. */
export interface PlannedSsh {
  kind: 'ssh';
  step: string;
  host: string;
  host_role: HostRole;
  argv: string[];
  mutates: boolean;
}

export interface PlannedHttp {
  kind: 'http';
  step: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  body?: unknown;
  mutates: boolean;
}

export interface PlanCase {
  when: string;
  /** Empty: the run carries on after the branch. A case that ends the run ends with an `end` action. */
  actions: PlannedAction[];
}

export interface Plan {
  runbook: string;
  node_id: string | null;
  actions: PlannedAction[];
}

/** A plan as stored and shown: its hash and its readable lines. */
export interface PlanSummary {
  plan_hash: string;
  lines: string[];
  /** Mutating actions on the path where every branch takes its first case. */
  mutations: number;
}

/** Outcomes every runbook that supports plan mode adds to its own. */
export const PLAN_OUTCOMES = ['planned', 'plan_drifted'] as const;

/** sha256, hex. */
export const PlanHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'a plan_hash is 64 lowercase hex digits (sha256)');

/** The readable form of a plan: one line per action, branches indented under their cases. */
export function renderPlan(actions: PlannedAction[], depth = 0): string[] {
  const pad = '  '.repeat(depth);
  const lines: string[] = [];
  for (const a of actions) {
    if (a.kind === 'branch') {
      lines.push(`${pad}${a.step}: depends on ${a.on}`);
      for (const c of a.cases) {
        lines.push(`${pad}  when ${c.when}:${c.actions.length === 0 ? ' carry on' : ''}`);
        lines.push(...renderPlan(c.actions, depth + 2));
      }
    } else {
      lines.push(`${pad}${describeAction(a)}`);
    }
  }
  return lines;
}

function describeAction(a: Exclude<PlannedAction, { kind: 'branch' }>): string {
  switch (a.kind) {
    case 'ssh':
      return `${a.step}: ssh ${a.host} (${a.host_role}) ${a.argv.map(showArg).join(' ')}${a.mutates ? '' : '  [no change]'}`;
    case 'http':
      return `${a.step}: ${a.method} ${a.path}${a.body === undefined ? '' : ` ${JSON.stringify(a.body)}`}${a.mutates ? '' : '  [no change]'}`;
    case 'sql':
      return `${a.step}: sql ${a.statement}${a.params.length ? ` -- ${JSON.stringify(a.params)}` : ''}${a.mutates ? '' : '  [no change]'}`;
    case 'redis':
      return `${a.step}: redis ${a.command.map(showArg).join(' ')}${a.mutates ? '' : '  [no change]'}`;
    case 'lease':
      return `${a.step}: lease ${a.node_id} from ${a.scopes.join(', ')} (waits while a scope is full)`;
    case 'release':
      return `${a.step}: give ${a.node_id}'s slots back to ${a.scopes.join(', ')}`;
    case 'approval':
      return `${a.step}: ask for approval: ${a.question}`;
    case 'check':
      return `${a.step}: read ${a.what}  [no change]`;
    case 'wait':
      return `${a.step}: wait until ${a.until} (at most ${a.timeout_ms} ms), polling ${describeAction(a.poll).replace(/^[^:]*: /, '')}`;
    case 'end':
      return `end: ${a.outcome} (${a.why})`;
  }
}

/** An argument as a shell would need it, for reading only (the SSH layer quotes for real). */
function showArg(arg: string): string {
  return /^[A-Za-z0-9_./=,:@%+-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`;
}

/** The actions along the first case of every branch: the path the run takes when everything goes well. */
export function expectedPath(actions: PlannedAction[]): PlannedAction[] {
  return actions.flatMap((a) => (a.kind === 'branch' ? expectedPath(a.cases[0]?.actions ?? []) : [a]));
}

/** Changes to the fleet or the platform on the expected path. */
export function countMutations(actions: PlannedAction[]): number {
  return expectedPath(actions).filter((a) => (a.kind === 'ssh' || a.kind === 'http' || a.kind === 'sql' || a.kind === 'redis') && a.mutates).length;
}
