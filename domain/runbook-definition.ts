import type { z } from 'zod';
import type { DrillScenario } from './drills';
import type { HostAction, HostRole } from './host-roles';
import type { RunMode } from './runbook';

/** How much of the fleet a run may take out of service. */
export type Disruption = 'none' | 'node';

/**
 * Everything the API, the worker and the docs need to know about a runbook,
 * declared once in its folder (`runbooks/<name>/definition.ts`). Pure data and
 * pure functions: the API imports it without the workflow code.
 */
export interface RunbookDefinition<S extends z.ZodTypeAny = z.ZodTypeAny> {
  name: string;
  /** One line for listings, the docs index and the API's error messages. */
  summary: string;
  /** The exported workflow function the worker registers (checked against runbooks/workflows.ts). */
  workflowType: string;
  /** The trigger's input; what a run receives after validation. */
  schema: S;
  supportedRunModes: readonly RunMode[];
  /** Every outcome a finished run can report. */
  outcomes: readonly string[];
  disruption: Disruption;
  /** The role the target node must have; checked against the inventory before anything starts. */
  targetRole: HostRole;
  /**
   * For a runbook that acts on the node its input names: the host action its
   * check_host_role pre-check verifies there. The API's refusal of a node of
   * another role quotes the host-role rule that forbids this action on it.
   */
  targetAction?: HostAction;
  /** The workflow id says what the run acts on; one open run per id. */
  workflowId(input: z.output<S>): string;
  nodeId(input: z.output<S>): string | undefined;
  /**
   * How a repeated trigger joins the open run. Two triggers with the same key carry
   * the same information, so only the first is delivered; `xid` is the fault code a
   * trigger reports, which decides whether a closed run already saw it.
   */
  alert(input: z.output<S>): { key: string; xid: number | undefined };
  /** The drills this runbook ships (scheduled through /api/v1/drills). */
  drills?: readonly DrillScenario[];
  /**
   * A drill's run input from its target node and the scenario's input (with `{node}`
   * filled in). Default: the scenario's input with `node_id`; a runbook whose input
   * names its node another way (an app instance bound to it) says so here.
   */
  drillInput?(nodeId: string, scenarioInput: Record<string, unknown>): Record<string, unknown>;
  /** The signal a trigger with a new key sends to the open run. */
  joinSignal(input: z.output<S>, correlationId: string, receivedAt: string): { name: string; arg: unknown };
}
