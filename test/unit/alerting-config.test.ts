import YAML from 'yaml';
import { alertmanagerConfig, labDuration, parsePromDuration, prometheusConfig, scaleRuleDurations } from '../../infra/alerting-config';

describe('Prometheus durations', () => {
  it('reads compound durations and refuses anything else', () => {
    expect(parsePromDuration('10m')).toBe(600_000);
    expect(parsePromDuration('1h30m')).toBe(5_400_000);
    expect(parsePromDuration('250ms')).toBe(250);
    for (const bad of ['', '10', '10 m', '5min', 'm10', '1h 30m']) expect(() => parsePromDuration(bad)).toThrow(RangeError);
  });

  it('scales a production duration for the lab, never below the floor', () => {
    expect(labDuration('10m', 0.002, 250)).toBe('1200ms');
    expect(labDuration('15s', 0.002, 250)).toBe('250ms');
    expect(labDuration('15s', 1, 250)).toBe('15000ms');
  });
});

it("scales every alert's `for:` and leaves the rest of the rules as written", () => {
  const rules = [
    'groups:',
    '  - name: g',
    '    rules:',
    '      - alert: A',
    '        expr: up == 0',
    '        for: 10m',
    '        labels: { severity: page }',
    '      - alert: B',
    '        expr: up == 0',
    '      - record: job:up:sum',
    '        expr: sum(up)',
  ].join('\n');
  const scaled = YAML.parse(scaleRuleDurations(rules, 0.001, 100)) as { groups: { rules: Record<string, unknown>[] }[] };
  expect(scaled.groups[0]!.rules).toEqual([
    { alert: 'A', expr: 'up == 0', for: '600ms', labels: { severity: 'page' } },
    { alert: 'B', expr: 'up == 0' },
    { record: 'job:up:sum', expr: 'sum(up)' },
  ]);
});

it('scrapes each replica with its cluster and node labels and sends alerts to the Alertmanager', () => {
  const config = YAML.parse(
    prometheusConfig({
      clusters: [{ name: 'lab', replicas: [{ node_id: 'dev-control-1', api_url: 'http://127.0.0.1:4001' }] }],
      alertmanagerUrl: 'http://127.0.0.1:9093',
      ruleFiles: ['/x/rules.yml'],
      timeScale: 0.002,
    }),
  ) as Record<string, unknown>;
  expect(config).toMatchObject({
    global: { scrape_interval: '250ms', evaluation_interval: '250ms' },
    rule_files: ['/x/rules.yml'],
    alerting: { alertmanagers: [{ scheme: 'http', path_prefix: '/', static_configs: [{ targets: ['127.0.0.1:9093'] }] }] },
    scrape_configs: [{ job_name: 'gpu-orchestrator', static_configs: [{ targets: ['127.0.0.1:4001'], labels: { cluster: 'lab', node_id: 'dev-control-1' } }] }],
  });
});

it('routes every alert to the on-call webhook with the token read from a file, never written into the config', () => {
  const text = alertmanagerConfig({ webhookUrl: 'http://127.0.0.1:1/lab/v1/on-call/notifications', tokenFile: '/d/webhook.token', timeScale: 0.002 });
  expect(YAML.parse(text)).toMatchObject({
    route: { receiver: 'on-call', group_by: ['alertname', 'cluster'], group_wait: '100ms' },
    receivers: [
      {
        name: 'on-call',
        webhook_configs: [
          {
            url: 'http://127.0.0.1:1/lab/v1/on-call/notifications',
            send_resolved: true,
            http_config: { authorization: { type: 'Bearer', credentials_file: '/d/webhook.token' } },
          },
        ],
      },
    ],
  });
});
