import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { AlertCheckActivities, AlertDeliveryWait, AlertRouting } from '../../capabilities/alerting/alert-check-activities';
import { alertmanagerRequests, prometheusRequests } from '../../capabilities/alerting/requests';
import { notificationDelta, orchestratorAlert, type NotificationCounters } from '../../domain/orchestrator-alerts';
import type { Plan } from '../../domain/plan';
import type { RunReport } from '../../domain/runbook';
import { ActivityOptionSets } from '../../engine/activity-options';
import { planCheckpoint } from '../../engine/plan-checkpoint';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { parseWorkflowInput } from '../../engine/target';
import { AlertCheckInputSchema, alertCheckRequestSignal, RUNBOOK_ORCHESTRATOR_ALERT_CHECK, type AlertCheckInput, type AlertCheckRequest } from './input';

const acts = {
  alerting: proxyActivities<AlertCheckActivities>(ActivityOptionSets.platformCall),
};

/** The integrations (webhook, pagerduty, ...) of every receiver the alerts are routed to. */
const integrationsOf = (routing: AlertRouting) => [...new Set(routing.routes.flatMap((r) => r.receivers.flatMap((x) => x.integrations)))].sort();

/** Counters as they stand: everything since Alertmanager started. */
const sinceStart = (counters: NotificationCounters, integrations: string[]) => notificationDelta({}, counters, integrations);

/**
 * orchestrator-alert-check: seed 004's drill item 5, "validate alerts fire for pending_jobs
 * and lease saturations; confirm on-call receives notification", as a run that changes nothing.
 *
 * pre-checks: Prometheus has the expected alert rules loaded (GET /api/v1/rules), Alertmanager
 * is ready and its routing tree sends each alert (with the cluster's labels) to a receiver
 * with an integration, and its notification counters as they stand → procedure: wait,
 * heartbeating, until each alert has fired in Prometheus (/api/v1/alerts) and been active in
 * Alertmanager (/api/v2/alerts), and the receivers' integrations have delivered a notification
 * per alert → verify: Alertmanager's own counters since the pre-checks: a notification the
 * receiver accepted per alert (alertmanager_notification_requests_total less _failed_total)
 * and none given up (alertmanager_notifications_failed_total).
 */
export async function orchestratorAlertCheck(request: AlertCheckRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(AlertCheckInputSchema, request);
  const input: AlertCheckInput = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_ORCHESTRATOR_ALERT_CHECK, correlationId: input.correlation_id, runMode: input.run_mode });
  setHandler(alertCheckRequestSignal, (req) => run.queueEvidence('request', 'alert', `check requested again by ${req.source}`, req, req.correlation_id));
  return runRunbook(run, input, () => checkAlertPath(run, input));
}

async function checkAlertPath(run: RunbookRun, input: AlertCheckInput): Promise<RunbookResult> {
  const { cluster, alerts } = input;
  run.phase('pre_checks');
  const rules = await run.step('read_alert_rules', (ctx) => acts.alerting.readAlertRules(ctx, alerts), {
    describe: (r) => `${r.loaded.length} of ${alerts.length} rule(s) loaded${r.missing.length ? `; missing ${r.missing.join(', ')}` : ''}`,
  });
  const broken = rules.loaded.filter((r) => r.health === 'err');
  if (rules.missing.length > 0 || broken.length > 0) {
    const parts = [
      ...(rules.missing.length ? [`Prometheus has no rule ${rules.missing.join(', ')}`] : []),
      ...broken.map((r) => `${r.name} fails to evaluate (${r.last_error ?? 'no error given'})`),
    ];
    return { outcome: 'rules_missing', summary: `${parts.join('; ')} (GET /api/v1/rules): load monitoring/alerts/gpu-orchestrator.rules.yml` };
  }

  const labelled = alerts.map((alertname) => ({ alertname, labels: { ...rules.loaded.find((r) => r.name === alertname)!.labels, alertname, cluster } }));
  const routing = await run.step('read_alert_routing', (ctx) => acts.alerting.readAlertRouting(ctx, labelled), {
    describe: (r) =>
      r.routes
        .map((x) => `${x.alertname} → ${x.receivers.map((v) => `${v.name} (${v.integrations.join(', ') || 'no integration'})`).join(', ') || 'nothing'}`)
        .join('; '),
  });
  const unrouted = routing.routes.filter((r) => !r.receivers.some((x) => x.integrations.length > 0));
  if (unrouted.length > 0) {
    return {
      outcome: 'alert_not_routed',
      summary: `Alertmanager routes ${unrouted.map((r) => r.alertname).join(', ')} for cluster ${cluster} to no receiver that notifies anyone (GET /api/v2/status)`,
    };
  }
  const integrations = integrationsOf(routing);
  const baseline = await run.step('read_notification_counters', (ctx) => acts.alerting.readNotificationCounters(ctx), {
    describe: (c) => {
      const t = sinceStart(c, integrations);
      return `${integrations.join(', ')}: ${t.delivered} notification(s) delivered so far, ${t.attempts_failed} attempt(s) failed, ${t.given_up} given up`;
    },
  });

  const stop = await planCheckpoint(run, plan(input, integrations), undefined);
  if (stop) return stop;

  run.phase('procedure');
  const waits = proxyActivities<AlertCheckActivities>(ActivityOptionSets.boundedWait(input.timeout, input.poll_interval));
  const seen = await run.step(
    'wait_for_alerts',
    (ctx) => waits.waitForAlertDelivery(ctx, cluster, alerts, integrations, baseline, input.timeout, input.poll_interval),
    { describe: describeWait },
  );
  const notFiring = seen.alerts.filter((a) => a.firing_after_ms === null);
  if (notFiring.length > 0) {
    const values = await run.step(
      'read_alert_values',
      (ctx) =>
        acts.alerting.readAlertValues(
          ctx,
          cluster,
          notFiring.map((a) => a.alertname),
        ),
      { describe: (v) => v.map((x) => `${x.metric} = ${x.value ?? 'no series'}`).join('; ') },
    );
    const why = values.map((v) => `${v.alertname} (${v.metric} = ${v.value ?? 'no series'}, fires at ${orchestratorAlert(v.alertname).threshold})`);
    return {
      outcome: 'alert_not_firing',
      summary: `within ${input.timeout} ms Prometheus never had ${why.join(' and ')} firing for cluster ${cluster}`,
    };
  }
  const notActive = seen.alerts.filter((a) => a.active_after_ms === null);
  if (notActive.length > 0) {
    return {
      outcome: 'alert_not_in_alertmanager',
      summary: `${notActive.map((a) => a.alertname).join(', ')} fired in Prometheus but Alertmanager never listed it active for cluster ${cluster}: check Prometheus's alerting.alertmanagers and its notifier errors`,
    };
  }

  run.phase('verify');
  const after = await run.step('confirm_notifications', (ctx) => acts.alerting.readNotificationCounters(ctx), {
    describe: (c) => {
      const t = notificationDelta(baseline, c, integrations);
      return `${integrations.join(', ')} since the check began: ${t.started} notification(s), ${t.delivered} delivered, ${t.attempts_failed} attempt(s) failed, ${t.given_up} given up`;
    },
  });
  const d = notificationDelta(baseline, after, integrations);
  const receivers = [...new Set(routing.routes.flatMap((r) => r.receivers.map((x) => x.name)))].join(', ');
  const counts = `${d.started} notification(s), ${d.delivered} delivered, ${d.attempts_failed} attempt(s) failed, ${d.given_up} given up`;
  if (d.given_up > 0 || d.delivered < alerts.length) {
    return {
      outcome: 'notification_failed',
      summary: `${alerts.join(' and ')} reached Alertmanager, but ${receivers} (${integrations.join(', ')}) did not take a notification for each since the check began: ${counts} (alertmanager_notifications_total / _failed_total, alertmanager_notification_requests_total / _failed_total)`,
    };
  }
  return {
    outcome: 'alerts_delivered',
    summary: `${alerts.join(' and ')} fired for cluster ${cluster}, went active in Alertmanager and were notified to ${receivers} (${counts})`,
  };
}

function describeWait(w: AlertDeliveryWait): string {
  const each = w.alerts.map(
    (a) =>
      `${a.alertname}: ${a.firing_after_ms === null ? 'never fired' : `firing after ${a.firing_after_ms} ms`}, ${a.active_after_ms === null ? 'not in Alertmanager' : `active after ${a.active_after_ms} ms`}`,
  );
  return `${each.join('; ')}; ${w.notifications.delivered} notification(s) delivered, ${w.notifications.attempts_failed} attempt(s) failed`;
}

/** What the run reads after its pre-checks: nothing it does changes Prometheus or Alertmanager. */
function plan(input: AlertCheckInput, integrations: string[]): Plan {
  return {
    runbook: RUNBOOK_ORCHESTRATOR_ALERT_CHECK,
    node_id: null,
    actions: [
      {
        kind: 'wait',
        step: 'wait_for_alerts',
        until: `${input.alerts.join(' and ')} firing for cluster ${input.cluster} in Prometheus, active in Alertmanager, and one notification each on ${integrations.join(', ')}`,
        timeout_ms: input.timeout,
        poll: { kind: 'http', step: 'wait_for_alerts', ...prometheusRequests.alerts() },
      },
      {
        kind: 'check',
        step: 'wait_for_alerts',
        what: `Alertmanager ${alertmanagerRequests.activeAlerts().path} and ${alertmanagerRequests.metrics().path} every poll`,
      },
      {
        kind: 'branch',
        step: 'wait_for_alerts',
        on: 'every alert fired',
        cases: [
          {
            when: 'an alert never fired',
            actions: [
              { kind: 'check', step: 'read_alert_values', what: 'the value each silent rule compares (GET /api/v1/query)' },
              { kind: 'end', outcome: 'alert_not_firing', why: 'the alert never fired within the timeout' },
            ],
          },
          { when: 'every alert fired', actions: [] },
        ],
      },
      { kind: 'http', step: 'confirm_notifications', ...alertmanagerRequests.metrics() },
      { kind: 'end', outcome: 'alerts_delivered', why: 'every alert fired, reached Alertmanager and was notified with no failure' },
    ],
  };
}
