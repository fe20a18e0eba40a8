/**
 * The lab's on-call pager: the webhook receiver Alertmanager notifies (/lab/v1/on-call, lab
 * token via admin-api.ts's hook, as Alertmanager's http_config sends it). Every notification
 * is kept as Alertmanager sent it (webhook payload version 4), so a drill can show that the
 * person on call was told, about which alerts, with which labels.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { sendError, sendInvalid } from './http-errors';
import type { LabPart } from './world';

const Labels = z.record(z.string());

/** Alertmanager's webhook body (version 4), checked field by field; extra fields from newer versions are kept. */
export const AlertmanagerWebhookSchema = z
  .object({
    version: z.literal('4'),
    groupKey: z.string(),
    truncatedAlerts: z.number().int().min(0).default(0),
    status: z.enum(['firing', 'resolved']),
    receiver: z.string(),
    groupLabels: Labels,
    commonLabels: Labels,
    commonAnnotations: Labels,
    externalURL: z.string(),
    alerts: z
      .array(
        z
          .object({
            status: z.enum(['firing', 'resolved']),
            labels: Labels,
            annotations: Labels,
            startsAt: z.string(),
            endsAt: z.string(),
            generatorURL: z.string(),
            fingerprint: z.string(),
          })
          .passthrough(),
      )
      .min(1),
  })
  .passthrough();
export type AlertmanagerWebhook = z.infer<typeof AlertmanagerWebhookSchema>;

export interface OnCallNotification {
  seq: number;
  received_at: string;
  notification: AlertmanagerWebhook;
}

const OutageBody = z.object({ down: z.boolean() }).strict();

/** The route Alertmanager posts to, below the lab's base URL. */
export const ON_CALL_WEBHOOK_PATH = '/lab/v1/on-call/notifications';

export class OnCallPager implements LabPart {
  private notifications: OnCallNotification[] = [];
  private seq = 0;
  /** The pager's service is down: every notification is answered 503 and not kept (until the next reset). */
  down = false;

  receive(notification: AlertmanagerWebhook, now = new Date()): OnCallNotification {
    const kept = { seq: ++this.seq, received_at: now.toISOString(), notification };
    this.notifications.push(kept);
    return kept;
  }

  list(): OnCallNotification[] {
    return [...this.notifications];
  }

  reset(): void {
    this.notifications = [];
    this.down = false;
  }

  stop(): void {}
}

export function registerOnCallRoutes(app: FastifyInstance, pager: OnCallPager): void {
  app.post(ON_CALL_WEBHOOK_PATH, async (req, reply) => {
    if (pager.down) return sendError(reply, 503, 'unavailable', 'the on-call pager is down');
    const body = AlertmanagerWebhookSchema.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    const kept = pager.receive(body.data);
    return reply.code(200).send({ seq: kept.seq });
  });

  app.get(ON_CALL_WEBHOOK_PATH, async () => ({ notifications: pager.list() }));

  /** Fault: the pager's service goes down (or comes back), so Alertmanager's notifications fail. */
  app.post('/lab/v1/on-call/outage', async (req, reply) => {
    const body = OutageBody.safeParse(req.body ?? {});
    if (!body.success) return sendInvalid(reply, body.error);
    pager.down = body.data.down;
    return { down: pager.down };
  });
}
