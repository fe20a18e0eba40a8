/**
 * Seed 004's alerts on the GPU orchestrator ("Monitoring and Alerts"), as the alert check
 * knows them: the rule names in monitoring/alerts/gpu-orchestrator.rules.yml, and for each
 * the PromQL that reads the value its threshold is compared with, so a run that saw no alert
 * can say what the metric was. Pure data and functions: safe in workflows.
 */
import { z } from 'zod';

export interface OrchestratorAlert {
  alertname: string;
  /** The metric the page names, for the run's texts. */
  metric: string;
  threshold: string;
  /** The value the rule compares, for one cluster. */
  valueQuery(cluster: string): string;
}

const clusterMatcher = (cluster: string) => `cluster="${cluster.replace(/["\\]/g, '\\$&')}"`;

export const ORCHESTRATOR_ALERTS: readonly OrchestratorAlert[] = [
  {
    alertname: 'GpuOrchestratorPendingJobsBacklog',
    metric: 'gpu_orchestrator_pending_jobs',
    threshold: '> 100',
    valueQuery: (cluster) => `max(gpu_orchestrator_pending_jobs{${clusterMatcher(cluster)}})`,
  },
  {
    alertname: 'GpuOrchestratorLeaseSaturation',
    metric: 'gpu_orchestrator_active_leases / gpu_orchestrator_worker_pool_workers',
    threshold: '>= 0.95',
    valueQuery: (cluster) =>
      `max(sum by (instance) (gpu_orchestrator_active_leases{${clusterMatcher(cluster)}}) / sum by (instance) (gpu_orchestrator_worker_pool_workers{${clusterMatcher(cluster)}}))`,
  },
];

export const OrchestratorAlertNameSchema = z.enum(ORCHESTRATOR_ALERTS.map((a) => a.alertname) as [string, ...string[]]);

export function orchestratorAlert(alertname: string): OrchestratorAlert {
  const found = ORCHESTRATOR_ALERTS.find((a) => a.alertname === alertname);
  if (!found) throw new RangeError(`no orchestrator alert ${alertname}`);
  return found;
}

// ---- Alertmanager's routing tree, enough to say which receiver an alert's labels reach ----

export interface AlertRoute {
  receiver?: string;
  matchers?: string[];
  match?: Record<string, string>;
  match_re?: Record<string, string>;
  continue?: boolean;
  routes?: AlertRoute[];
}

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$/;

/** One of Alertmanager's matchers (`severity="page"`, `alertname=~"Gpu.*"`) applied to labels; a matcher it cannot read never matches. */
export function matcherMatches(matcher: string, labels: Record<string, string>): boolean {
  const m = MATCHER.exec(matcher);
  if (!m) return false;
  const [, name, op] = m;
  const value = (m[3] ?? m[4] ?? '').replace(/\\(.)/g, '$1');
  const actual = labels[name!] ?? '';
  if (op === '=') return actual === value;
  if (op === '!=') return actual !== value;
  const re = new RegExp(`^(?:${value})$`);
  return op === '=~' ? re.test(actual) : !re.test(actual);
}

function routeMatches(route: AlertRoute, labels: Record<string, string>): boolean {
  const matchers = [
    ...(route.matchers ?? []),
    ...Object.entries(route.match ?? {}).map(([k, v]) => `${k}="${v.replace(/["\\]/g, '\\$&')}"`),
    ...Object.entries(route.match_re ?? {}).map(([k, v]) => `${k}=~"${v.replace(/["\\]/g, '\\$&')}"`),
  ];
  return matchers.every((m) => matcherMatches(m, labels));
}

/** The receivers an alert with `labels` reaches, walking the tree as Alertmanager does (first match, unless `continue`). */
export function receiversFor(root: AlertRoute, labels: Record<string, string>): string[] {
  const walk = (route: AlertRoute, inherited: string | undefined): string[] => {
    const receiver = route.receiver ?? inherited;
    const out: string[] = [];
    for (const child of route.routes ?? []) {
      if (!routeMatches(child, labels)) continue;
      out.push(...walk(child, receiver));
      if (!child.continue) return out;
    }
    return out.length > 0 ? out : receiver ? [receiver] : [];
  };
  return [...new Set(walk(root, undefined))];
}

// ---- Alertmanager's notification counters ----

/**
 * Alertmanager's own counters for one integration (webhook, pagerduty, ...). In 0.25
 * `alertmanager_notifications_total` counts a notification when it starts and
 * `_failed_total` when it gives up after its retries; each HTTP attempt is counted in
 * `alertmanager_notification_requests_total` and `_requests_failed_total`.
 */
export interface IntegrationCounters {
  notifications: number;
  notifications_failed: number;
  requests: number;
  requests_failed: number;
}
export type NotificationCounters = Record<string, IntegrationCounters>;

export const NOTIFICATION_METRICS: Record<string, keyof IntegrationCounters> = {
  alertmanager_notifications_total: 'notifications',
  alertmanager_notifications_failed_total: 'notifications_failed',
  alertmanager_notification_requests_total: 'requests',
  alertmanager_notification_requests_failed_total: 'requests_failed',
};

export interface NotificationDelta {
  /** Notifications Alertmanager started. */
  started: number;
  /** Attempts the receiver accepted (2xx): notifications delivered. */
  delivered: number;
  /** Attempts that failed (each retry counts). */
  attempts_failed: number;
  /** Notifications Alertmanager gave up on. */
  given_up: number;
}

/** What the integrations did between two readings of the counters. */
export function notificationDelta(before: NotificationCounters, after: NotificationCounters, integrations: readonly string[]): NotificationDelta {
  const d = (key: keyof IntegrationCounters) => integrations.reduce((n, i) => n + (after[i]?.[key] ?? 0) - (before[i]?.[key] ?? 0), 0);
  return {
    started: d('notifications'),
    delivered: d('requests') - d('requests_failed'),
    attempts_failed: d('requests_failed'),
    given_up: d('notifications_failed'),
  };
}
