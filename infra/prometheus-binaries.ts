/**
 * Where Prometheus and Alertmanager come from when the project starts them: Debian's packages
 * `prometheus` (prometheus, promtool) and `prometheus-alertmanager` (prometheus-alertmanager;
 * upstream calls the binary alertmanager).
 */
import { findOnPath } from './executables';

export const PROMETHEUS_INSTALL_HINT =
  'Install it (Debian/Ubuntu: `apt-get install --no-install-recommends prometheus`) or set PROMETHEUS_URL=http://host:9090 to use a running one.';
export const ALERTMANAGER_INSTALL_HINT =
  'Install it (Debian/Ubuntu: `apt-get install --no-install-recommends prometheus-alertmanager`) or set ALERTMANAGER_URL=http://host:9093 to use a running one.';

export function findPrometheus(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findOnPath('prometheus', env);
}

export function findPromtool(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findOnPath('promtool', env);
}

export function findAlertmanager(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findOnPath('prometheus-alertmanager', env) ?? findOnPath('alertmanager', env);
}
