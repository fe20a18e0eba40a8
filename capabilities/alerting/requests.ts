/**
 * Every call the alert check makes to Prometheus's and Alertmanager's HTTP APIs, as method and
 * path: the client sends exactly these and plan mode shows them. All are reads.
 */
import type { PlatformRequest } from '../platform/requests';

export const prometheusRequests = {
  alertRules: (): PlatformRequest => ({ method: 'GET', path: '/api/v1/rules?type=alert', mutates: false }),
  alerts: (): PlatformRequest => ({ method: 'GET', path: '/api/v1/alerts', mutates: false }),
  query: (promql: string): PlatformRequest => ({ method: 'GET', path: `/api/v1/query?query=${encodeURIComponent(promql)}`, mutates: false }),
};

export const alertmanagerRequests = {
  ready: (): PlatformRequest => ({ method: 'GET', path: '/-/ready', mutates: false }),
  status: (): PlatformRequest => ({ method: 'GET', path: '/api/v2/status', mutates: false }),
  activeAlerts: (): PlatformRequest => ({ method: 'GET', path: '/api/v2/alerts?active=true&silenced=false&inhibited=false', mutates: false }),
  metrics: (): PlatformRequest => ({ method: 'GET', path: '/metrics', mutates: false }),
};
