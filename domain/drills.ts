/**
 * Drills: a runbook rehearsed against a drillable target with a fault injected
 * on purpose, its approvals answered as the drill says, and its outcome
 * compared with what the drill expects. Pure data; the scenarios live with
 * their runbook (`definition.drills`).
 */
import { z } from 'zod';
import { DurationSchema } from './durations';
import type { RunbookDefinition } from './runbook-definition';

export interface DrillScenario {
  name: string;
  summary: string;
  /**
   * The fault to inject first: a POST to the fault-injection endpoint (the lab's, or a staging hook). `{node}` is the target.
   * `answer_within_ms`: how long the hook may take to answer (default 15 s); one that waits for its fault to take hold
   * (a storm to reach the DLQ) needs longer.
   */
  fault?: { path: string; body: Record<string, unknown>; answer_within_ms?: number };
  /**
   * The runbook's input beside node_id and run_mode (which the drill sets). Instants that
   * depend on when the drill runs are written as time placeholders (`{now}`, `{now+2h}`,
   * `{now-10m}`), filled as each run starts.
   */
  input?: Record<string, unknown>;
  /** How the drill answers each approval the run asks for (by step name); unlisted ones are left to time out. */
  approvals?: Record<string, 'approve' | 'reject'>;
  /**
   * The outcome that makes the drill pass (and words its summary must hold, where the
   * outcome alone does not tell a right answer from a wrong one), or the failure type of
   * a run that must be refused.
   */
  expect: { outcome: string; summary_contains?: string } | { failure: string };
}

export const DrillSpecSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'drill id: lowercase letters, digits and "-"'),
    runbook: z.string().min(1).max(100),
    scenario: z.string().min(1).max(100),
    node_id: z.string().min(1).max(63),
    /** This drill's own values for the scenario's input (a staging cluster, its backup marker); time placeholders allowed. */
    input: z.record(z.string().min(1).max(100), z.unknown()).optional(),
    /** When it runs: cron expressions, or an interval such as "24h". */
    cron: z.array(z.string().min(1).max(100)).max(10).optional(),
    every: DurationSchema.optional(),
    /** How late a missed run may still start (e.g. after an outage). */
    catchup_window: DurationSchema.default('10m'),
    paused: z.boolean().default(false),
  })
  .strict()
  .refine((d) => (d.cron === undefined) !== (d.every === undefined), 'give cron or every, not both');
export type DrillSpec = z.infer<typeof DrillSpecSchema>;

/** What the drill workflow receives from its schedule. */
export interface DrillInput {
  drill_id: string;
  runbook: string;
  workflow_type: string;
  scenario: DrillScenario;
  node_id: string;
  /** The drilled run's workflow id, as the runbook's definition makes it. */
  child_workflow_id: string;
  /**
   * The drilled run's input (before run_mode and source), time placeholders unfilled: the
   * drill fills them as it starts the run. Drills scheduled before it was kept pass
   * `{...scenario.input, node_id}`.
   */
  run_input?: Record<string, unknown>;
}

export interface DrillReport {
  drill_id: string;
  runbook: string;
  scenario: string;
  node_id: string;
  expected: string;
  outcome: string;
  passed: boolean;
  time_to_detect_ms: number | null;
  time_to_recover_ms: number | null;
  run: unknown;
  started_at: string;
  ended_at: string;
}

export function expectedText(s: DrillScenario): string {
  if (!('outcome' in s.expect)) return `refused: ${s.expect.failure}`;
  return s.expect.summary_contains ? `${s.expect.outcome}, its summary saying "${s.expect.summary_contains}"` : s.expect.outcome;
}

/** Whether a drilled run ended as its scenario expects: the outcome (or refusal), and the summary's words when it names some. */
export function drillPassed(s: DrillScenario, outcome: string, summary: string | undefined): boolean {
  if (!('outcome' in s.expect)) return outcome === `refused: ${s.expect.failure}`;
  return outcome === s.expect.outcome && (!s.expect.summary_contains || (summary ?? '').includes(s.expect.summary_contains));
}

/** The placeholder a scenario writes where its target node goes. */
const NODE_PLACEHOLDER = '{node}';

function fillNode<T>(value: T, nodeId: string): T {
  if (typeof value === 'string') return value.split(NODE_PLACEHOLDER).join(nodeId) as T;
  if (Array.isArray(value)) return value.map((v) => fillNode(v, nodeId)) as T;
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, fillNode(v, nodeId)])) as T;
  return value;
}

/** The scenario aimed at one node: every `{node}` in its fault and its input becomes the node's id. */
export function scenarioFor(scenario: DrillScenario, nodeId: string): DrillScenario {
  return { ...scenario, fault: fillNode(scenario.fault, nodeId), input: fillNode(scenario.input, nodeId) };
}

/**
 * What a drill of `scenario` on `nodeId` runs: the scenario aimed at the node (with the
 * drill's own `input` values over the scenario's), and the run's input before validation.
 */
export function drillOf(
  entry: RunbookDefinition,
  scenario: DrillScenario,
  nodeId: string,
  input?: Record<string, unknown>,
): { scenario: DrillScenario; runInput: Record<string, unknown> } {
  const aimed = scenarioFor(input ? { ...scenario, input: { ...scenario.input, ...input } } : scenario, nodeId);
  const given = aimed.input ?? {};
  return { scenario: aimed, runInput: entry.drillInput ? entry.drillInput(nodeId, given) : { ...given, node_id: nodeId } };
}

/** `{now}`, `{now+DURATION}`, `{now-DURATION}`: anything else that starts `{now` is malformed. */
const TIME_PLACEHOLDER = /\{now([^{}]*)\}/g;
const OFFSET = /^([+-])(.+)$/;

export interface TimePlaceholderProblem {
  /** Where it was written: `window_end`, `limits.0`. */
  path: string;
  placeholder: string;
  message: string;
}

/**
 * A drill's input with every time placeholder replaced by an ISO 8601 instant relative to
 * `nowMs`: a schedule fires weekly, so a maintenance window or a backup marker cannot be
 * fixed when the drill is created. Durations as everywhere (domain/durations.ts: `90s`,
 * `10m`, `2h`, `7d`). A malformed placeholder is left as written and reported, so the API
 * refuses it and a run given it anyway fails its own input validation.
 */
export function fillTimePlaceholders<T>(value: T, nowMs: number): { value: T; problems: TimePlaceholderProblem[] } {
  const problems: TimePlaceholderProblem[] = [];
  const fill = (v: unknown, path: string[]): unknown => {
    if (typeof v === 'string') {
      return v.replace(TIME_PLACEHOLDER, (placeholder: string, rest: string) => {
        const offset = timeOffset(rest);
        // Date's range ends at ±8.64e15 ms; toISOString would throw beyond it.
        if (offset === null || Math.abs(nowMs + offset) > 8.64e15) {
          problems.push({
            path: path.join('.') || '(root)',
            placeholder,
            message: `malformed time placeholder ${placeholder}: write {now}, {now+DURATION} or {now-DURATION}, e.g. {now+2h} or {now-10m}`,
          });
          return placeholder;
        }
        return new Date(nowMs + offset).toISOString();
      });
    }
    if (Array.isArray(v)) return v.map((x, i) => fill(x, [...path, String(i)]));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fill(x, [...path, k])]));
    return v;
  };
  const filled = fill(value, []) as T;
  return { value: filled, problems };
}

/** The signed offset in ms after `now` ("" is none), or null when it is no `+DURATION` / `-DURATION`. */
function timeOffset(rest: string): number | null {
  if (rest === '') return 0;
  const m = OFFSET.exec(rest);
  if (!m) return null;
  const d = DurationSchema.safeParse(m[2]);
  if (!d.success) return null;
  return m[1] === '-' ? -d.data : d.data;
}
