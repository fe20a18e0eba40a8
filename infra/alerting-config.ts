/**
 * Prometheus's and Alertmanager's configuration for the lab, generated from the repository's
 * own rules (monitoring/alerts): the lab orchestrator's replicas scraped, the same alert rules
 * with every `for:` scaled by the lab's time scale, and one route to the lab's on-call pager.
 * Production keeps its own configuration and is reached through PROMETHEUS_URL / ALERTMANAGER_URL.
 */
import path from 'node:path';
import YAML from 'yaml';

export const ALERT_RULES_DIR = path.resolve(__dirname, '../monitoring/alerts');
export const ORCHESTRATOR_RULES_FILE = path.join(ALERT_RULES_DIR, 'gpu-orchestrator.rules.yml');

/** The receiver every lab alert is routed to. */
export const ON_CALL_RECEIVER = 'on-call';

const UNIT_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 };

/** A Prometheus duration ("10m", "1h30m", "250ms") in ms; throws on anything else. */
export function parsePromDuration(text: string): number {
  const parts = [...text.matchAll(/(\d+)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new RangeError(`not a Prometheus duration: ${JSON.stringify(text)}`);
  return parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0);
}

export const promDuration = (ms: number) => `${Math.max(1, Math.round(ms))}ms`;

/** A production duration in the lab: scaled, but never below `floorMs` (Prometheus and Alertmanager have their own overheads). */
export const labDuration = (production: string, timeScale: number, floorMs: number) =>
  promDuration(Math.max(floorMs, parsePromDuration(production) * timeScale));

/** The lab's Prometheus and Alertmanager intervals: production's, scaled, with floors a two-core machine keeps up with. */
export function labIntervals(timeScale: number): { scrape: string; evaluation: string; groupWait: string; groupInterval: string; repeatInterval: string } {
  return {
    scrape: labDuration('15s', timeScale, 250),
    evaluation: labDuration('15s', timeScale, 250),
    groupWait: labDuration('30s', timeScale, 100),
    groupInterval: labDuration('5m', timeScale, 200),
    repeatInterval: labDuration('4h', timeScale, 1_000),
  };
}

interface RuleGroup {
  name: string;
  interval?: string;
  rules: { alert?: string; record?: string; for?: string; [key: string]: unknown }[];
}

/** The rules file with every alert's `for:` scaled (at least one evaluation); nothing else changes. */
export function scaleRuleDurations(rulesYaml: string, timeScale: number, floorMs: number): string {
  const doc = YAML.parse(rulesYaml) as { groups: RuleGroup[] };
  for (const group of doc.groups) {
    for (const rule of group.rules) {
      if (rule.for !== undefined) rule.for = labDuration(rule.for, timeScale, floorMs);
    }
  }
  return YAML.stringify(doc);
}

export interface ScrapedCluster {
  name: string;
  replicas: { node_id: string; api_url: string }[];
}

/** prometheus.yml: every replica of every cluster scraped with its cluster and node as labels, alerts to the Alertmanager. */
export function prometheusConfig(opts: { clusters: ScrapedCluster[]; alertmanagerUrl: string; ruleFiles: string[]; timeScale: number }): string {
  const iv = labIntervals(opts.timeScale);
  const am = new URL(opts.alertmanagerUrl);
  return YAML.stringify({
    global: { scrape_interval: iv.scrape, scrape_timeout: iv.scrape, evaluation_interval: iv.evaluation },
    rule_files: opts.ruleFiles,
    alerting: {
      alertmanagers: [
        {
          scheme: am.protocol.replace(':', ''),
          path_prefix: am.pathname,
          api_version: 'v2',
          static_configs: [{ targets: [am.host] }],
        },
      ],
    },
    scrape_configs: [
      {
        job_name: 'gpu-orchestrator',
        metrics_path: '/metrics',
        static_configs: opts.clusters.flatMap((c) =>
          c.replicas.map((r) => {
            const u = new URL(r.api_url);
            return { targets: [u.host], labels: { cluster: c.name, node_id: r.node_id } };
          }),
        ),
      },
    ],
  });
}

/** alertmanager.yml: one route, grouped per alert and cluster, to the on-call webhook with the lab token from a file. */
export function alertmanagerConfig(opts: { webhookUrl: string; tokenFile: string; timeScale: number }): string {
  const iv = labIntervals(opts.timeScale);
  return YAML.stringify({
    route: {
      receiver: ON_CALL_RECEIVER,
      group_by: ['alertname', 'cluster'],
      group_wait: iv.groupWait,
      group_interval: iv.groupInterval,
      repeat_interval: iv.repeatInterval,
    },
    receivers: [
      {
        name: ON_CALL_RECEIVER,
        webhook_configs: [{ url: opts.webhookUrl, send_resolved: true, http_config: { authorization: { type: 'Bearer', credentials_file: opts.tokenFile } } }],
      },
    ],
  });
}
