import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { NodeIdSchema } from '../../domain/inventory';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_GPU_HEALTH_CHECK = 'gpu-health-check';

export const GpuHealthCheckInputSchema = z
  .object({
    node_id: NodeIdSchema,
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
  })
  .strict();
export type GpuHealthCheckRequest = z.input<typeof GpuHealthCheckInputSchema>;
export type GpuHealthCheckInput = z.output<typeof GpuHealthCheckInputSchema> & { correlation_id: string };

export const GPU_HEALTH_CHECK_OUTCOMES = ['healthy', 'unhealthy', 'cancelled', 'failed'] as const;

/** Another request for a check of the same node while one runs: it joins the run and is recorded. */
export interface HealthCheckRequest {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const healthCheckRequestSignal = defineSignal<[HealthCheckRequest]>('healthCheckRequest');

export function gpuHealthCheckWorkflowId(nodeId: string): string {
  return `gpu-health-check/${nodeId}`;
}
