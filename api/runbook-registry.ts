import type { z } from 'zod';
import { GpuFaultInputSchema, RUNBOOK_GPU_FAULT, gpuFaultWorkflowId, type GpuAlert } from '../domain/gpu-fault';
import type { HostRole } from '../domain/host-roles';
import type { RunMode } from '../domain/runbook';

/**
 * What the API needs to know to start a runbook: its input schema, the workflow
 * type, the workflow id (which says what the run acts on), the host role it acts
 * on, and how a repeated trigger joins the open run.
 */
export interface RunbookEntry<S extends z.ZodTypeAny = z.ZodTypeAny> {
  name: string;
  workflowType: string;
  schema: S;
  supportedRunModes: RunMode[];
  /** The role the target node must have; checked against the inventory before anything starts. */
  targetRole: HostRole;
  workflowId(input: z.output<S>): string;
  nodeId(input: z.output<S>): string | undefined;
  /**
   * What an alert says, for coalescing: two alerts with the same key carry the same
   * information for the open run, so only the first is delivered. `xid` is the fault
   * code the alert reports, which decides whether a closed run already saw it.
   */
  alert(input: z.output<S>): { key: string; xid: number | undefined };
  /** The signal a trigger with new information sends to the open run, with its argument. */
  joinSignal(input: z.output<S>, correlationId: string, receivedAt: string): { name: string; arg: unknown };
}

const gpuFault: RunbookEntry<typeof GpuFaultInputSchema> = {
  name: RUNBOOK_GPU_FAULT,
  workflowType: 'gpuFaultRemediation',
  schema: GpuFaultInputSchema,
  // Plan mode is designed (see docs/architecture.md) but not built yet.
  supportedRunModes: ['live', 'drill'],
  targetRole: 'worker_compute',
  workflowId: (input) => gpuFaultWorkflowId(input.node_id),
  nodeId: (input) => input.node_id,
  // The source and correlation id differ between alerting systems for the same fault; they add nothing.
  alert: (input) => ({ key: `xid=${input.xid ?? '-'}/gpu=${input.gpu_index ?? '-'}`, xid: input.xid }),
  joinSignal: (input, correlationId, receivedAt) => ({
    name: 'gpuAlert',
    arg: { xid: input.xid, gpu_index: input.gpu_index, source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies GpuAlert,
  }),
};

const RUNBOOKS: ReadonlyMap<string, RunbookEntry> = new Map<string, RunbookEntry>([[gpuFault.name, gpuFault]]);

/**
 * The runbook with this name. A Map, not an object, so names such as `__proto__` or
 * `constructor` are just unknown names rather than inherited properties.
 */
export function findRunbook(name: string): RunbookEntry | undefined {
  return RUNBOOKS.get(name);
}

export function runbookNames(): string[] {
  return [...RUNBOOKS.keys()];
}
