/**
 * The alert path around the lab's orchestrator, all real: a Prometheus started from Debian's
 * package scraping both replicas with the repository's rules (`for:` scaled), an Alertmanager
 * routing to the lab's on-call pager, and the job_backlog fault (seed 004's alert drill) that
 * makes both alerts fire, reach the pager with the cluster label, and resolve once the backlog
 * drains. timeScale 0.002: the rules' 10m and 15m hold for 1.2 s and 1.8 s.
 */
import { eventually } from '../support/harness';
import { startOrchestratorLab, type TestOrchestratorLab } from '../support/orchestrator-lab';

const BACKLOG = 'GpuOrchestratorPendingJobsBacklog';
const SATURATION = 'GpuOrchestratorLeaseSaturation';

let orch: TestOrchestratorLab;
let prometheus: string;
let alertmanager: string;

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

interface Target {
  health: string;
  labels: Record<string, string>;
}
interface PromAlert {
  state: string;
  labels: Record<string, string>;
}

const firing = async () =>
  (await getJson<{ data: { alerts: PromAlert[] } }>(`${prometheus}/api/v1/alerts`)).data.alerts
    .filter((a) => a.state === 'firing')
    .map((a) => a.labels.alertname);
const pending = async () => {
  const text = await (await fetch(`${orch.cluster.replicas[0]!.api_url}/metrics`)).text();
  return Number(/^gpu_orchestrator_pending_jobs (\d+)$/m.exec(text)?.[1]);
};

beforeAll(async () => {
  orch = await startOrchestratorLab({ backend: 'postgres', suite: 'alerting', timeScale: 0.002, electionMs: 150, alerting: true });
  prometheus = orch.alerting!.prometheus.url;
  alertmanager = orch.alerting!.alertmanager.url;
  // Prometheus hands new targets to its scrapers every 5 s.
  await eventually(async () => {
    const targets = (await getJson<{ data: { activeTargets: Target[] } }>(`${prometheus}/api/v1/targets`)).data.activeTargets;
    return targets.length === 2 && targets.every((t) => t.health === 'up') ? true : undefined;
  }, 'both replicas scraped');
  await eventually(async () => ((await orch.state()).replicas.some((r) => r.is_leader) ? true : undefined), 'a leader');
});

afterAll(async () => {
  await orch?.stop();
});

it('scrapes every replica with its cluster and node, and loads the repository rules with `for:` scaled by the lab time scale', async () => {
  const targets = (await getJson<{ data: { activeTargets: Target[] } }>(`${prometheus}/api/v1/targets`)).data.activeTargets;
  expect(targets.map((t) => [t.labels.cluster, t.labels.node_id]).sort()).toEqual(orch.cluster.replicas.map((r) => ['lab', r.node_id]).sort());

  const rules = await getJson<{ data: { groups: { name: string; rules: { name: string; duration: number; labels: Record<string, string> }[] }[] } }>(
    `${prometheus}/api/v1/rules?type=alert`,
  );
  const loaded = rules.data.groups.flatMap((g) => g.rules.map((r) => ({ name: r.name, duration: r.duration, severity: r.labels.severity })));
  // 10 min and 15 min × 0.002.
  expect(loaded).toEqual([
    { name: BACKLOG, duration: 1.2, severity: 'page' },
    { name: SATURATION, duration: 1.8, severity: 'page' },
  ]);
  expect(await firing()).toEqual([]);
});

it('the on-call pager takes a notification only with the lab token', async () => {
  const res = await fetch(orch.lab.onCallWebhookUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(401);
  const bad = await fetch(orch.lab.onCallWebhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${orch.lab.platformToken}` },
    body: JSON.stringify({ version: '4', status: 'firing' }),
  });
  expect(bad.status).toBe(400);
  expect(await orch.admin.onCallNotifications()).toEqual([]);
});

it('job_backlog: both alerts fire, reach on-call through Alertmanager with the cluster label, and resolve once the backlog drains', async () => {
  const applied = await orch.fault('job-backlog', { jobs: 150, hold_ms: 40 * 60_000 });
  expect(applied).toMatchObject({ fault: 'job_backlog', jobs: 150 });
  expect(await pending()).toBeGreaterThan(100);

  await eventually(async () => ((await firing()).sort().join() === [SATURATION, BACKLOG].sort().join() ? true : undefined), 'both alerts firing', 30_000, 100);
  const active = await getJson<{ labels: Record<string, string>; status: { state: string }; receivers: { name: string }[] }[]>(
    `${alertmanager}/api/v2/alerts?active=true`,
  );
  expect(active.map((a) => [a.labels.alertname, a.labels.cluster, a.status.state, a.receivers.map((r) => r.name).join()]).sort()).toEqual(
    [
      [BACKLOG, 'lab', 'active', 'on-call'],
      [SATURATION, 'lab', 'active', 'on-call'],
    ].sort(),
  );

  const told = await eventually(async () => {
    const firingNotes = (await orch.admin.onCallNotifications()).filter((n) => n.notification.status === 'firing');
    const names = new Set(firingNotes.map((n) => n.notification.commonLabels.alertname));
    return names.has(BACKLOG) && names.has(SATURATION) ? firingNotes : undefined;
  }, 'both firing notifications');
  for (const n of told) {
    expect(n.notification.receiver).toBe('on-call');
    expect(n.notification.alerts.every((a) => a.labels.cluster === 'lab' && a.labels.severity === 'page')).toBe(true);
    expect(n.notification.commonAnnotations.runbook_url).toMatch(/^https:\/\//);
  }

  // The hold ends, the leader drains the backlog, and on-call hears both alerts resolve.
  await eventually(async () => ((await pending()) === 0 ? true : undefined), 'the backlog drained', 60_000, 200);
  await eventually(async () => {
    const resolved = (await orch.admin.onCallNotifications()).filter((n) => n.notification.status === 'resolved');
    const names = new Set(resolved.map((n) => n.notification.commonLabels.alertname));
    return names.has(BACKLOG) && names.has(SATURATION) ? true : undefined;
  }, 'both resolved notifications');
  expect(await firing()).toEqual([]);
  expect((await orch.state()).counters.processed).toBeGreaterThanOrEqual(150);
});
