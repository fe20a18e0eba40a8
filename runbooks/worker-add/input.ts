import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { NodeIdSchema } from '../../domain/inventory';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { HostNameSchema, Ipv4Schema, PlatformIdSchema } from '../../domain/platform-names';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_WORKER_ADD = 'worker-add';

export const WorkerAddInputSchema = z
  .object({
    project_id: PlatformIdSchema,
    app_instance_id: PlatformIdSchema,
    /** The GPU node to add as a Slurm worker. */
    node_id: NodeIdSchema,
    app_control_node_id: NodeIdSchema.optional(),
    node_api_name: HostNameSchema.default('node-api.100-90-157-34.sslip.io'),
    control_plane_address: Ipv4Schema.default('10.176.46.104'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    /** How long the member operation, and the agent after a repair, may take. */
    converge_timeout: boundedDuration('10m', '1s', '2h'),
    poll_interval: boundedDuration('5s', '50ms', '10m'),
  })
  .strict();
export type WorkerAddRequest = z.input<typeof WorkerAddInputSchema>;
export type WorkerAddInput = z.output<typeof WorkerAddInputSchema> & { correlation_id: string };

export const WORKER_ADD_OUTCOMES = ['added', 'already_member', 'rolled_back', 'escalated', ...PLAN_OUTCOMES, 'cancelled', 'failed'] as const;

export interface WorkerAddRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const workerAddRequestSignal = defineSignal<[WorkerAddRequestSignal]>('workerAddRequest');

export function workerAddWorkflowId(appInstanceId: string, nodeId: string): string {
  return `worker-add/${appInstanceId}/${nodeId}`;
}
