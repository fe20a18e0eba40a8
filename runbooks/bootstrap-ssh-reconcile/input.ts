import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';
import { HostNameSchema, Ipv4Schema, PlatformIdSchema } from '../../domain/platform-names';

export const RUNBOOK_BOOTSTRAP_SSH_RECONCILE = 'bootstrap-ssh-reconcile';

export const BootstrapSshReconcileInputSchema = z
  .object({
    project_id: PlatformIdSchema,
    app_instance_id: PlatformIdSchema,
    node_api_name: HostNameSchema.default('node-api.100-90-157-34.sslip.io'),
    control_plane_address: Ipv4Schema.default('10.176.46.104'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
    /** How long a node task may stay queued (and the agent take to reconnect after a fix). */
    converge_timeout: boundedDuration('5m', '1s', '2h'),
    poll_interval: boundedDuration('5s', '50ms', '10m'),
  })
  .strict();
export type BootstrapSshReconcileRequest = z.input<typeof BootstrapSshReconcileInputSchema>;
export type BootstrapSshReconcileInput = z.output<typeof BootstrapSshReconcileInputSchema> & { correlation_id: string };

export const BOOTSTRAP_SSH_RECONCILE_OUTCOMES = ['reconciled', 'escalated', ...PLAN_OUTCOMES, 'cancelled', 'failed'] as const;

export interface ReconcileRequest {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const reconcileRequestSignal = defineSignal<[ReconcileRequest]>('reconcileRequest');

export function bootstrapSshReconcileWorkflowId(appInstanceId: string): string {
  return `bootstrap-ssh-reconcile/${appInstanceId}`;
}
