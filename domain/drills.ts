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
  /** The runbook's input beside node_id and run_mode (which the drill sets). */
  input?: Record<string, unknown>;
  /** How the drill answers each approval the run asks for (by step name); unlisted ones are left to time out. */
  approvals?: Record<string, 'approve' | 'reject'>;
  /** The outcome that makes the drill pass, or the failure type of a run that must be refused. */
  expect: { outcome: string } | { failure: string };
}

export const DrillSpecSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'drill id: lowercase letters, digits and "-"'),
    runbook: z.string().min(1).max(100),
    scenario: z.string().min(1).max(100),
    node_id: z.string().min(1).max(63),
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
  /** The drilled run's input (before run_mode and source); drills scheduled before it was kept pass `{...scenario.input, node_id}`. */
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
  return 'outcome' in s.expect ? s.expect.outcome : `refused: ${s.expect.failure}`;
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

/** What a drill of `scenario` on `nodeId` runs: the scenario aimed at the node, and the run's input before validation. */
export function drillOf(entry: RunbookDefinition, scenario: DrillScenario, nodeId: string): { scenario: DrillScenario; runInput: Record<string, unknown> } {
  const aimed = scenarioFor(scenario, nodeId);
  const input = aimed.input ?? {};
  return { scenario: aimed, runInput: entry.drillInput ? entry.drillInput(nodeId, input) : { ...input, node_id: nodeId } };
}
