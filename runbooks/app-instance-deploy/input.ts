import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { NodeIdSchema } from '../../domain/inventory';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';
import { HostNameSchema, Ipv4Schema, PlatformIdSchema } from '../../domain/platform-names';

export const RUNBOOK_APP_INSTANCE_DEPLOY = 'app-instance-deploy';

const Build = z.string().regex(/^\d+(\.\d+){1,3}$/, 'a build like 1.5.0');

export const AppInstanceDeployInputSchema = z
  .object({
    project_id: PlatformIdSchema,
    app_instance_id: PlatformIdSchema,
    /** A new deploy: create the instance (if it does not exist yet) with its controller allocation on this worker. */
    create: z
      .object({ name: safeText(100), controller_node_id: NodeIdSchema })
      .strict()
      .optional(),
    /** The app_control host that runs slurm-reference-controller; default: the inventory's only app_control host. */
    app_control_node_id: NodeIdSchema.optional(),
    /** The first controller build known to dial connection.host; older builds are upgraded to it (with an approval). */
    controller_build: Build.default('1.5.0'),
    /** The node API name the node-agent dials, and the control-plane address it must resolve to (seed 001's mapping). */
    node_api_name: HostNameSchema.default('node-api.100-90-157-34.sslip.io'),
    control_plane_address: Ipv4Schema.default('10.176.46.104'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    approval_timeout: boundedDuration('4h', '1s', '30d'),
    /** How long the platform may take to converge after a fix before the run diagnoses again. */
    converge_timeout: boundedDuration('5m', '1s', '2h'),
    poll_interval: boundedDuration('5s', '50ms', '10m'),
  })
  .strict();
export type AppInstanceDeployRequest = z.input<typeof AppInstanceDeployInputSchema>;
export type AppInstanceDeployInput = z.output<typeof AppInstanceDeployInputSchema> & { correlation_id: string };

export const APP_INSTANCE_DEPLOY_OUTCOMES = ['running', 'already_running', 'held_for_operator', 'escalated', ...PLAN_OUTCOMES, 'cancelled', 'failed'] as const;
export type AppInstanceDeployOutcome = (typeof APP_INSTANCE_DEPLOY_OUTCOMES)[number];

/** Another trigger for the same instance while a run is open: recorded, nothing else. */
export interface DeployRequest {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const deployRequestSignal = defineSignal<[DeployRequest]>('deployRequest');

export function appInstanceDeployWorkflowId(projectId: string, appInstanceId: string): string {
  return `app-instance-deploy/${projectId}/${appInstanceId}`;
}
