/**
 * orchestrator-alert-check against the lab's orchestrator with a real Prometheus and
 * Alertmanager (Debian's packages) around it: seed 004's drill alerts-firing through the
 * runbookDrill workflow (the job_backlog fault, both alerts fired, active and notified to the
 * lab's on-call pager with the cluster label), a quiet cluster that ends alert_not_firing with
 * the metrics' values, a Prometheus without the rules (rules_missing), plan mode (its reads
 * only), and a pager that is down (notification_failed). timeScale 0.002: the rules' 10m and 15m
 * hold for 1.2 s and 1.8 s.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolvePrometheus } from '../../../infra/prometheus-server';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import type { RunReport } from '../../../domain/runbook';
import { eventually, uniqueTaskQueue } from '../../../test/support/harness';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import { stepNames } from '../../gpu-fault-remediation/test/scenarios';
import { orchestratorAlertCheckRunbook } from '../definition';
import { alertCheckWorkflowId, type AlertCheckRequest } from '../input';

const BACKLOG = 'GpuOrchestratorPendingJobsBacklog';
const SATURATION = 'GpuOrchestratorLeaseSaturation';

const suite = orchestratorSuite({
  backend: 'postgres',
  suite: 'alert_check',
  timeScale: 0.002,
  electionMs: 150,
  alerting: true,
  queueName: 'alert-check',
  waitForLeader: true,
});

async function check(req: Partial<AlertCheckRequest>, workflowId = `${alertCheckWorkflowId('lab')}/${Date.now()}`): Promise<RunReport> {
  return (await suite.stack.client.workflow.execute('orchestratorAlertCheck', {
    taskQueue: suite.taskQueue,
    workflowId,
    args: [{ cluster: 'lab', poll_interval: '100ms', correlation_id: `test-${workflowId}`, ...req }],
  })) as RunReport;
}

const promAlerts = async () =>
  ((await (await fetch(`${suite.orch.alerting!.prometheus.url}/api/v1/alerts`)).json()) as { data: { alerts: { labels: Record<string, string> }[] } }).data
    .alerts;

const amActive = async () => (await (await fetch(`${suite.orch.alerting!.alertmanager.url}/api/v2/alerts?active=true`)).json()) as unknown[];
/** Notifications of alerts firing; a previous test's alerts may still be notified as resolved after the reset. */
const firingNotifications = async () => (await suite.orch.admin.onCallNotifications()).filter((n) => n.notification.status === 'firing');

beforeAll(async () => {
  // Prometheus hands new targets to its scrapers every 5 s; the runs should not wait for that.
  await eventually(async () => {
    const body = (await (await fetch(`${suite.orch.alerting!.prometheus.url}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string }[] } };
    return body.data.activeTargets.length === 2 && body.data.activeTargets.every((t) => t.health === 'up') ? true : undefined;
  }, 'both replicas scraped');
});

beforeEach(async () => {
  // A previous test's alerts resolve once the reset emptied the stream.
  await eventually(async () => ((await promAlerts()).length === 0 ? true : undefined), 'no alert pending or firing');
  await eventually(async () => ((await amActive()).length === 0 ? true : undefined), 'no alert active in Alertmanager');
});

it('drill alerts-firing: both alerts fire, reach Alertmanager and on-call hears of each with the cluster label; the drill passes', async () => {
  const input = drillInputFor(orchestratorAlertCheckRunbook, orchestratorAlertCheckRunbook.drills![0]!, 'dev-control-1');
  const report = await runDrill(suite.stack.client, suite.taskQueue, input);

  expect(report).toMatchObject({ passed: true, outcome: 'alerts_delivered', expected: 'alerts_delivered' });
  const run = report.run as RunReport;
  expect(stepNames(run)).toEqual(['read_alert_rules', 'read_alert_routing', 'read_notification_counters', 'wait_for_alerts', 'confirm_notifications']);
  expect(run.summary).toMatch(/notified to on-call \(\d+ notification\(s\), [2-9]\d* delivered, 0 attempt\(s\) failed, 0 given up\)/);

  const firing = await firingNotifications();
  for (const alertname of [BACKLOG, SATURATION]) {
    const told = firing.filter((n) => n.notification.alerts.some((a) => a.labels.alertname === alertname));
    expect(told.length).toBeGreaterThanOrEqual(1);
    for (const n of told) {
      expect(n.notification.receiver).toBe('on-call');
      expect(n.notification.alerts.map((a) => a.labels.cluster)).toEqual(n.notification.alerts.map(() => 'lab'));
    }
  }
});

it('without the fault the run ends alert_not_firing, naming each alert and the value its rule compares', async () => {
  const report = await check({ timeout: '2s' });
  expect(report.outcome).toBe('alert_not_firing');
  expect(stepNames(report)).toEqual(['read_alert_rules', 'read_alert_routing', 'read_notification_counters', 'wait_for_alerts', 'read_alert_values']);
  // Nothing pending, no lease held on the four idle workers.
  expect(report.summary).toContain(`${BACKLOG} (gpu_orchestrator_pending_jobs = 0, fires at > 100)`);
  expect(report.summary).toContain(`${SATURATION} (gpu_orchestrator_active_leases / gpu_orchestrator_worker_pool_workers = 0, fires at >= 0.95)`);
  expect(await firingNotifications()).toEqual([]);
});

it('a Prometheus without the rules ends the run rules_missing before any wait, naming both alerts', async () => {
  const bareDir = mkdtempSync(join(tmpdir(), 'alert-check-bare-'));
  const bare = await resolvePrometheus({
    dataDir: bareDir,
    scrape: { clusters: [suite.orch.cluster], alertmanagerUrl: suite.orch.alerting!.alertmanager.url },
    timeScale: 0.002,
    ruleFiles: [],
  });
  const bareQueue = uniqueTaskQueue('alert-check-bare');
  const bareWorker = await suite.stack.worker(bareQueue, {
    fleet: { ...suite.orch.fleet, alerting: { prometheusUrl: bare.url, alertmanagerUrl: suite.orch.alerting!.alertmanager.url } },
  });
  try {
    const report = (await bareWorker.runUntil(
      suite.stack.client.workflow.execute('orchestratorAlertCheck', {
        taskQueue: bareQueue,
        workflowId: `${alertCheckWorkflowId('lab')}/bare/${Date.now()}`,
        args: [{ cluster: 'lab', timeout: '30s', poll_interval: '100ms' }],
      }),
    )) as RunReport;
    expect(report.outcome).toBe('rules_missing');
    expect(stepNames(report)).toEqual(['read_alert_rules']);
    expect(report.summary).toContain(`Prometheus has no rule ${BACKLOG}, ${SATURATION}`);
  } finally {
    await bare.stop();
    rmSync(bareDir, { recursive: true, force: true });
  }
});

it('plan mode takes the pre-checks reads and plans the wait; nothing is notified', async () => {
  const report = await check({ run_mode: 'plan' });
  expect(report.outcome).toBe('planned');
  expect(stepNames(report)).toEqual(['read_alert_rules', 'read_alert_routing', 'read_notification_counters', 'record_plan']);
  expect(report.summary).toMatch(/0 change\(s\) on the expected path/);
  expect(await firingNotifications()).toEqual([]);
});

// Last: Alertmanager keeps retrying the failed notifications after the pager comes back.
it('with the on-call pager down, Alertmanager fails to notify and the run ends notification_failed', async () => {
  await suite.orch.admin.onCallOutage(true);
  await suite.orch.fault('job-backlog', { jobs: 150, hold_ms: 40 * 60_000 });
  // Alertmanager retries a failed attempt; the run gives it until the timeout to get through.
  const report = await check({ timeout: '8s' });
  expect(report.outcome).toBe('notification_failed');
  expect(stepNames(report)).toEqual(['read_alert_rules', 'read_alert_routing', 'read_notification_counters', 'wait_for_alerts', 'confirm_notifications']);
  expect(report.summary).toMatch(
    /on-call \(webhook\) did not take a notification for each since the check began: [1-9]\d* notification\(s\), 0 delivered, [1-9]\d* attempt\(s\) failed/,
  );
  expect(await suite.orch.admin.onCallNotifications()).toEqual([]);
});
