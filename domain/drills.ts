/**
 * Drills: a runbook rehearsed against a drillable target with a fault injected
 * on purpose, its approvals answered as the drill says, and its outcome
 * compared with what the drill expects. Pure data; the scenarios live with
 * their runbook (`definition.drills`).
 */
import { z } from 'zod';
import { DurationSchema } from './durations';

export interface DrillScenario {
  name: string;
  summary: string;
  /** The fault to inject first: a POST to the fault-injection endpoint (the lab's, or a staging hook). `{node}` is the target. */
  fault?: { path: string; body: Record<string, unknown> };
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
