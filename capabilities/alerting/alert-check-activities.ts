import { heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { Logger } from 'pino';
import { ErrorType } from '../../domain/errors';
import {
  NOTIFICATION_METRICS,
  notificationDelta,
  orchestratorAlert,
  receiversFor,
  type NotificationCounters,
  type NotificationDelta,
} from '../../domain/orchestrator-alerts';
import type { StepContext } from '../../domain/step-context';
import { stepLogger } from '../observability';
import { AlertmanagerApi, PrometheusApi, type LoadedAlertRule } from './alerting-client';

/** Where the alert path is (PROMETHEUS_URL, ALERTMANAGER_URL; in the lab the ones `npm start` started). */
export interface AlertingEndpoints {
  prometheusUrl: string;
  alertmanagerUrl: string;
}

export interface AlertRulesRead {
  loaded: LoadedAlertRule[];
  /** Expected alerts Prometheus has no rule for. */
  missing: string[];
}

export interface AlertRouting {
  version: string | null;
  routes: { alertname: string; labels: Record<string, string>; receivers: { name: string; integrations: string[] }[] }[];
}

export interface AlertSeen {
  alertname: string;
  /** ms into the wait when Prometheus first listed it firing; null: never. */
  firing_after_ms: number | null;
  /** ms into the wait when Alertmanager first listed it active; null: never. */
  active_after_ms: number | null;
  receivers: string[];
}

export interface AlertDeliveryWait {
  alerts: AlertSeen[];
  /** What the receivers' integrations did since the baseline. */
  notifications: NotificationDelta;
  done: boolean;
  waited_ms: number;
}

/**
 * The alert path as activities: Prometheus's rules and alerts, Alertmanager's routing, its
 * active alerts and its notification counters. All reads; nothing here changes either server.
 */
export function createAlertCheckActivities(deps: { alerting?: AlertingEndpoints; logger: Logger }) {
  const endpoints = (): AlertingEndpoints => {
    if (!deps.alerting) {
      throw ApplicationFailure.create({
        type: ErrorType.InvalidInput,
        message: 'no Prometheus and Alertmanager configured for this worker: set PROMETHEUS_URL and ALERTMANAGER_URL',
        nonRetryable: true,
      });
    }
    return deps.alerting;
  };
  const prometheus = () => new PrometheusApi(endpoints().prometheusUrl);
  const alertmanager = () => new AlertmanagerApi(endpoints().alertmanagerUrl);

  const counters = async (): Promise<NotificationCounters> => {
    const out: NotificationCounters = {};
    for (const s of await alertmanager().metrics()) {
      const integration = s.labels.integration;
      const key = NOTIFICATION_METRICS[s.name];
      if (!integration || !key) continue;
      (out[integration] ??= { notifications: 0, notifications_failed: 0, requests: 0, requests_failed: 0 })[key] += s.value;
    }
    return out;
  };

  return {
    /** GET /api/v1/rules: the expected alerts' rules as Prometheus loaded them. */
    async readAlertRules(_ctx: StepContext, alertnames: string[]): Promise<AlertRulesRead> {
      const rules = await prometheus().alertRules();
      const loaded = rules.filter((r) => alertnames.includes(r.name));
      return { loaded, missing: alertnames.filter((n) => !loaded.some((r) => r.name === n)) };
    },

    /** Alertmanager ready, and the receivers (with their integrations) each alert's labels reach in its running config. */
    async readAlertRouting(_ctx: StepContext, alerts: { alertname: string; labels: Record<string, string> }[]): Promise<AlertRouting> {
      const am = alertmanager();
      await am.ready();
      const routing = await am.routing();
      return {
        version: routing.version,
        routes: alerts.map((a) => ({
          alertname: a.alertname,
          labels: a.labels,
          receivers: receiversFor(routing.route, a.labels).map((name) => ({
            name,
            integrations: routing.receivers.find((r) => r.name === name)?.integrations ?? [],
          })),
        })),
      };
    },

    /** GET /metrics on Alertmanager: notifications and their HTTP attempts so far, per integration. */
    readNotificationCounters(_ctx: StepContext): Promise<NotificationCounters> {
      return counters();
    },

    /**
     * Polls until every alert has been seen firing in Prometheus and active in Alertmanager for
     * the cluster, and the receivers' integrations delivered a notification for each (or
     * Alertmanager gave one up), or the timeout; heartbeats every poll. An alert seen once counts even if it resolved since.
     */
    async waitForAlertDelivery(
      ctx: StepContext,
      cluster: string,
      alertnames: string[],
      integrations: string[],
      baseline: NotificationCounters,
      timeoutMs: number,
      pollMs: number,
    ): Promise<AlertDeliveryWait> {
      const prom = prometheus();
      const am = alertmanager();
      const seen = new Map<string, AlertSeen>(alertnames.map((n) => [n, { alertname: n, firing_after_ms: null, active_after_ms: null, receivers: [] }]));
      const started = Date.now();
      for (;;) {
        const waited = Date.now() - started;
        for (const a of await prom.alerts()) {
          const s = seen.get(a.labels.alertname ?? '');
          if (s && a.labels.cluster === cluster && a.state === 'firing') s.firing_after_ms ??= waited;
        }
        for (const a of await am.activeAlerts()) {
          const s = seen.get(a.labels.alertname ?? '');
          if (s && a.labels.cluster === cluster && a.status.state === 'active') {
            s.active_after_ms ??= waited;
            s.receivers = a.receivers.map((r) => r.name);
          }
        }
        const notifications = notificationDelta(baseline, await counters(), integrations);
        const alerts = [...seen.values()];
        const allSeen = alerts.every((s) => s.firing_after_ms !== null && s.active_after_ms !== null);
        // A failed attempt is retried by Alertmanager; only one it gave up on ends the wait early.
        const done = (allSeen && notifications.delivered >= alerts.length) || notifications.given_up > 0;
        heartbeat({ waited_ms: waited, alerts, notifications });
        if (done || waited >= timeoutMs) {
          stepLogger(deps.logger, ctx).info({ alerts, notifications, waited_ms: waited }, 'alert delivery wait ended');
          return { alerts, notifications, done, waited_ms: waited };
        }
        await sleep(Math.min(pollMs, Math.max(1, timeoutMs - waited)));
      }
    },

    /** Each alert's value now (the PromQL its threshold is compared with), for a run that saw no alert; null: no series. */
    async readAlertValues(_ctx: StepContext, cluster: string, alertnames: string[]): Promise<{ alertname: string; metric: string; value: number | null }[]> {
      const prom = prometheus();
      return Promise.all(
        alertnames.map(async (n) => {
          const alert = orchestratorAlert(n);
          return { alertname: n, metric: alert.metric, value: await prom.scalar(alert.valueQuery(cluster)) };
        }),
      );
    },
  };
}

export type AlertCheckActivities = ReturnType<typeof createAlertCheckActivities>;
