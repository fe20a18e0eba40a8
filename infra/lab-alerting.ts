/**
 * The alert path around the lab's orchestrator: an Alertmanager routing to the lab's on-call
 * pager, then a Prometheus scraping the replicas with the repository's rules and sending to
 * that Alertmanager. Either may be an existing one (PROMETHEUS_URL / ALERTMANAGER_URL).
 */
import type { ScrapedCluster } from './alerting-config';
import { resolveAlertmanager, type ResolvedAlertmanager } from './alertmanager-server';
import { resolvePrometheus, type ResolvedPrometheus } from './prometheus-server';

export interface LabAlerting {
  prometheus: ResolvedPrometheus;
  alertmanager: ResolvedAlertmanager;
  /** Prometheus first (it sends to the Alertmanager), then the Alertmanager. Idempotent. */
  stop(): Promise<void>;
}

export async function startLabAlerting(opts: {
  dataDir: string;
  clusters: ScrapedCluster[];
  /** The lab's on-call pager and the lab token it takes. */
  webhook: { url: string; token: string };
  timeScale: number;
  prometheusUrl?: string;
  alertmanagerUrl?: string;
  log?: (line: string) => void;
}): Promise<LabAlerting> {
  const alertmanager = await resolveAlertmanager({
    dataDir: opts.dataDir,
    alertmanagerUrl: opts.alertmanagerUrl,
    webhook: opts.webhook,
    timeScale: opts.timeScale,
    log: opts.log,
  });
  let prometheus: ResolvedPrometheus;
  try {
    prometheus = await resolvePrometheus({
      dataDir: opts.dataDir,
      prometheusUrl: opts.prometheusUrl,
      scrape: { clusters: opts.clusters, alertmanagerUrl: alertmanager.url },
      timeScale: opts.timeScale,
      log: opts.log,
    });
  } catch (err) {
    await alertmanager.stop();
    throw err;
  }
  let stopped: Promise<void> | undefined;
  return {
    prometheus,
    alertmanager,
    stop: () =>
      (stopped ??= (async () => {
        await prometheus.stop();
        await alertmanager.stop();
      })()),
  };
}
