import { defineSignal } from '@temporalio/workflow';
import { z } from 'zod';
import { boundedDuration } from '../../domain/durations';
import { ClusterNameSchema } from '../../domain/orchestrator';
import { ORCHESTRATOR_ALERTS, OrchestratorAlertNameSchema } from '../../domain/orchestrator-alerts';
import { PLAN_OUTCOMES } from '../../domain/plan';
import { RunModeSchema } from '../../domain/runbook';
import { safeText } from '../../domain/text';

export const RUNBOOK_ORCHESTRATOR_ALERT_CHECK = 'orchestrator-alert-check';

export const AlertCheckInputSchema = z
  .object({
    /** The cluster label the alerts carry (the orchestrator cluster's name). */
    cluster: ClusterNameSchema,
    /** The alerts expected to fire and reach on-call (default: seed 004's pending-jobs backlog and lease saturation). */
    alerts: z
      .array(OrchestratorAlertNameSchema)
      .min(1)
      .default(ORCHESTRATOR_ALERTS.map((a) => a.alertname))
      .refine((a) => new Set(a).size === a.length, 'each alert once'),
    /** How long the alerts may take to fire and be notified: the rules' `for:` (15m at most) plus scrape, evaluation and group_wait. */
    timeout: boundedDuration('30m', '100ms', '6h'),
    poll_interval: boundedDuration('15s', '20ms', '5m'),
    source: safeText(200).default('api'),
    correlation_id: safeText(200).optional(),
    run_mode: RunModeSchema.default('live'),
  })
  .strict();
export type AlertCheckRequest = z.input<typeof AlertCheckInputSchema>;
export type AlertCheckInput = z.output<typeof AlertCheckInputSchema> & { correlation_id: string };

export const ALERT_CHECK_OUTCOMES = [
  'alerts_delivered',
  'rules_missing',
  'alert_not_routed',
  'alert_not_firing',
  'alert_not_in_alertmanager',
  'notification_failed',
  ...PLAN_OUTCOMES,
  'cancelled',
  'failed',
] as const;

export interface AlertCheckRequestSignal {
  source: string;
  correlation_id: string;
  received_at: string;
}
export const alertCheckRequestSignal = defineSignal<[AlertCheckRequestSignal]>('alertCheckRequest');

/** `alert-check/<cluster>`: one check of a cluster's alert path at a time. */
export const alertCheckWorkflowId = (cluster: string) => `alert-check/${cluster}`;
