import type { z } from 'zod';
import { GpuFaultInputSchema, RUNBOOK_GPU_FAULT, gpuFaultWorkflowId, type GpuAlert } from '../domain/gpu-fault';
import type { RunMode } from '../domain/runbook';

/**
 * What the API needs to know to start a runbook: its input schema, the workflow
 * type, the workflow id (which says what the run acts on) and how a duplicate
 * trigger joins the open run.
 */
export interface RunbookEntry<S extends z.ZodTypeAny = z.ZodTypeAny> {
  name: string;
  workflowType: string;
  schema: S;
  supportedRunModes: RunMode[];
  workflowId(input: z.output<S>): string;
  nodeId(input: z.output<S>): string | undefined;
  /** The signal a duplicate trigger sends to the open run, with its argument. */
  joinSignal(input: z.output<S>, correlationId: string, receivedAt: string): { name: string; arg: unknown };
}

const gpuFault: RunbookEntry<typeof GpuFaultInputSchema> = {
  name: RUNBOOK_GPU_FAULT,
  workflowType: 'gpuFaultRemediation',
  schema: GpuFaultInputSchema,
  // Plan mode is designed (see docs/architecture.md) but not built yet.
  supportedRunModes: ['live', 'drill'],
  workflowId: (input) => gpuFaultWorkflowId(input.node_id),
  nodeId: (input) => input.node_id,
  joinSignal: (input, correlationId, receivedAt) => ({
    name: 'gpuAlert',
    arg: { xid: input.xid, gpu_index: input.gpu_index, source: input.source, correlation_id: correlationId, received_at: receivedAt } satisfies GpuAlert,
  }),
};

export const RUNBOOKS: Record<string, RunbookEntry> = {
  [gpuFault.name]: gpuFault,
};
