/**
 * The lab's Loki and Tempo, read by the engine's own clients over real HTTP:
 * seed 000's four correlation queries find exactly an injected incident's
 * lines (never the noise around it), evidence gaps show as gaps, a malformed
 * query is a non-retryable failure, and a trace comes back as linked spans.
 */
import { ApplicationFailure } from '@temporalio/common';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LokiClient } from '../../capabilities/observability-query/loki-client';
import { TempoClient } from '../../capabilities/observability-query/tempo-client';
import { ErrorType } from '../../domain/errors';
import type { HostRole } from '../../domain/host-roles';
import { LogEventSchema } from '../../domain/incident-evidence';
import { LabAdmin, type IncidentRequest, type InjectedIncident } from '../../lab/admin-client';
import { startLab, type RunningLab } from '../../lab/index';
import { INCIDENT_SCENARIOS, type IncidentScenario } from '../../lab/observability/incident-scenarios';
import { http, waitFor } from './support';

let dataDir: string;
let lab: RunningLab;
let loki: LokiClient;
let tempo: TempoClient;

const admin = (method: string, path: string, body?: unknown) => http(lab.platformUrl, method, `/lab/v1${path}`, { body, token: lab.platformToken });
const inject = (req: IncidentRequest): Promise<InjectedIncident> => new LabAdmin(lab.platformUrl, lab.platformToken).injectIncident(req);
/** The last hour up to now: where every default-timed incident lies. */
const logs = (query: string, limit = 1000) => loki.queryRange({ query, start: new Date(Date.now() - 3_600_000), end: new Date(Date.now() + 1000), limit });

/** Seed 000's correlation-first queries, verbatim but for the id. */
const seedQueries = (id: string) => ({
  api: `{service="gpuaas-api"} | json | correlation_id="${id}"`,
  app_control: `{host_role="app_control"} | json | correlation_id="${id}"`,
  worker_compute: `{host_role="worker_compute"} | json | correlation_id="${id}"`,
  platform_control: `{host_role="platform_control"} | json | correlation_id="${id}"`,
});

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(ApplicationFailure);
    return err as ApplicationFailure;
  }
  throw new Error('expected a failure');
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gpuaas-lab-obs-'));
  lab = await startLab({ dataDir, timeScale: 0.01 });
  loki = new LokiClient({ baseUrl: lab.lokiUrl, timeoutMs: 5000 });
  tempo = new TempoClient({ baseUrl: lab.tempoUrl, timeoutMs: 5000 });
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  expect((await admin('POST', '/reset')).status).toBe(200);
});

describe('incident catalogue', () => {
  it('lists one scenario per seed 000 failure class (4 per role) and the cross-host chain, behind the lab token', async () => {
    expect((await http(lab.platformUrl, 'GET', '/lab/v1/observability/incidents')).status).toBe(401);
    const res = await admin('GET', '/observability/incidents');
    expect(res.status).toBe(200);
    const scenarios = res.body.scenarios as { id: string; first_failing_role: HostRole; failure_class: string }[];
    const perRole = (role: HostRole) =>
      new Set(scenarios.filter((s) => s.first_failing_role === role && !s.id.startsWith('chain-')).map((s) => s.failure_class)).size;
    expect([perRole('platform_control'), perRole('app_control'), perRole('worker_compute')]).toEqual([4, 4, 4]);
    expect(scenarios.map((s) => s.id)).toContain('chain-registry-controller-worker');
    expect(res.body.evidence_gaps).toEqual(['host_role', 'correlation_id']);
  });

  it('refuses an unknown scenario, a bad trace id and a non-worker host', async () => {
    expect((await admin('POST', '/observability/incidents', { scenario: 'nope' })).status).toBe(404);
    expect((await admin('POST', '/observability/incidents', { scenario: 'worker-join-failure', trace_id: 'XYZ' })).status).toBe(400);
    expect((await admin('POST', '/observability/incidents', { scenario: 'worker-join-failure', worker_node_id: 'dev-lab-1' })).status).toBe(400);
  });
});

describe('Loki query_range', () => {
  const expectedFor = (s: IncidentScenario, which: keyof ReturnType<typeof seedQueries>) =>
    s.events
      .filter((e) => e.format !== 'text')
      .filter((e) => (which === 'api' ? e.service === 'gpuaas-api' : e.role === which))
      .map((e) => e.msg);

  it.each(INCIDENT_SCENARIOS.map((s) => [s.id, s] as const))("seed 000's queries return exactly %s's lines for its correlation id", async (_id, scenario) => {
    const other = await inject({ scenario: scenario.id, noise_lines: 10 });
    const incident = await inject({ scenario: scenario.id, noise_lines: 40 });
    const queries = seedQueries(incident.correlation_id);
    let found = 0;
    for (const which of Object.keys(queries) as (keyof typeof queries)[]) {
      const events = await logs(queries[which]);
      expect(events.map((e) => e.msg)).toEqual(expectedFor(scenario, which));
      for (const e of events) {
        expect(LogEventSchema.parse(e)).toEqual(e);
        expect(e).toMatchObject({ correlation_id: incident.correlation_id, trace_id: incident.trace_id });
        expect(e.correlation_id).not.toBe(other.correlation_id);
        expect(e.host_name).toBeDefined();
      }
      if (which !== 'api') found += events.length;
    }
    // Every line of the incident is on exactly one role's query.
    expect(found).toBe(incident.lines);
  });

  it('reads the fields | json extracts: component, error, node_id, app_slug, level, a timeline in order', async () => {
    const incident = await inject({ scenario: 'chain-registry-controller-worker' });
    const events = await logs(`{service=~".+"} | json | correlation_id="${incident.correlation_id}"`);
    expect(events.map((e) => [e.service, e.host_role, e.level, e.error ?? null])).toEqual([
      ['gpuaas-api', 'platform_control', 'info', null],
      ['gpuaas-outbox-relay', 'platform_control', 'info', null],
      ['gpuaas-app-runtime-worker', 'platform_control', 'info', null],
      ['container-registry', 'platform_control', 'error', 'registry_unavailable'],
      ['slurm-reference-controller', 'app_control', 'error', 'image_pull_failed'],
      ['node-agent', 'worker_compute', 'warn', 'join_stalled'],
      ['slurmd', 'worker_compute', 'error', 'controller_unreachable'],
    ]);
    expect(events.find((e) => e.service === 'slurm-reference-controller')).toMatchObject({
      app_slug: 'slurm-reference',
      host_name: 'dev-lab-1',
      component: 'controller',
    });
    expect(events.find((e) => e.service === 'slurmd')).toMatchObject({ node_id: 'dev-gpu-1', host_name: 'dev-gpu-1' });
    const times = events.map((e) => Date.parse(e.ts));
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    // Downstream symptoms come later than the first failing boundary.
    expect(times[5]! - times[3]!).toBeGreaterThanOrEqual(170_000);

    // Label filters after | json: != and a second field.
    const notInfo = await logs(`{service=~".+"} | json | correlation_id="${incident.correlation_id}" | level!="info"`);
    expect(notInfo.map((e) => e.service)).toEqual(['container-registry', 'slurm-reference-controller', 'node-agent', 'slurmd']);
    const byError = await logs(`{host_role="worker_compute"} | json | error="controller_unreachable" | correlation_id="${incident.correlation_id}"`);
    expect(byError.map((e) => e.service)).toEqual(['slurmd']);
    // A line filter before the parser.
    const text = await logs(`{host_role="app_control"} |= "image_pull_failed" | json | correlation_id="${incident.correlation_id}"`);
    expect(text.map((e) => e.service)).toEqual(['slurm-reference-controller']);
  });

  it('keeps a scenario that puts a service on the wrong host visible for the boundary validation', async () => {
    const incident = await inject({ scenario: 'app-control-component-unavailable' });
    expect(incident.host_state).toMatchObject({ role: 'worker_compute', process: 'slurmctld' });
    const onWorker = await logs(seedQueries(incident.correlation_id).worker_compute);
    expect(onWorker.map((e) => [e.service, e.host_name])).toEqual([['slurmctld', 'dev-gpu-1']]);
  });

  it('a variant without host_role: the role query misses the failing lines, which keep their host but no role', async () => {
    const incident = await inject({ scenario: 'app-scheduler-misconfigured', omit: ['host_role'] });
    expect(await logs(seedQueries(incident.correlation_id).app_control)).toEqual([]);
    const all = await logs(`{service=~".+"} | json | correlation_id="${incident.correlation_id}"`);
    const gaps = all.filter((e) => e.host_role === undefined);
    expect(gaps.map((e) => [e.service, e.host_name])).toEqual([
      ['slurmctld', 'dev-lab-1'],
      ['slurm-reference-controller', 'dev-lab-1'],
    ]);
    expect(all.filter((e) => e.host_role !== undefined).map((e) => e.host_role)).toEqual(['platform_control', 'platform_control', 'worker_compute']);
  });

  it('a variant without correlation_id: only the API line has it, the rest is found by trace id', async () => {
    const incident = await inject({ scenario: 'worker-node-agent-cert', omit: ['correlation_id'] });
    expect(await logs(seedQueries(incident.correlation_id).worker_compute)).toEqual([]);
    expect((await logs(seedQueries(incident.correlation_id).api)).map((e) => e.msg)).toEqual([
      'allocation create requested',
      'node offline: no heartbeat for 60s',
    ]);
    const byTrace = await logs(`{host_role="worker_compute"} | json | trace_id="${incident.trace_id}"`);
    expect(byTrace).toHaveLength(1);
    expect(byTrace[0]).toMatchObject({ service: 'node-agent', error: 'cert_expired', host_role: 'worker_compute' });
    expect(byTrace[0]!.correlation_id).toBeUndefined();
  });

  it('keeps a line that is not JSON with what its labels say, its raw text as the message', async () => {
    const incident = await inject({ scenario: 'app-port-state-collision', noise_lines: 0 });
    const events = await logs('{service="slurmctld", host_role="app_control"} | json');
    expect(incident.text_lines).toBe(1);
    expect(events.map((e) => [e.level, e.msg, e.correlation_id ?? null])).toEqual([
      ['error', 'error: Error binding slurm stream socket: Address already in use (port 6817)', incident.correlation_id],
      ['info', 'error: Unable to bind listen port (6817): Address already in use', null],
      ['fatal', 'StateSaveLocation /var/spool/slurmctld is locked by another slurmctld', incident.correlation_id],
    ]);
    expect(events[1]).toEqual({
      ts: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/),
      service: 'slurmctld',
      host_role: 'app_control',
      host_name: 'dev-lab-1',
      level: 'info',
      msg: events[1]!.msg,
    });
  });

  it('answers a malformed query with 400 in plain text; the client reports it non-retryable', async () => {
    const raw = await fetch(`${lab.lokiUrl}/loki/api/v1/query_range?${new URLSearchParams({ query: '{service="gpuaas-api"} | logfmt' })}`);
    expect(raw.status).toBe(400);
    expect(raw.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await raw.text()).toMatch(/^parse error at line 1, col 26: unsupported pipeline stage "logfmt"/);

    const failure = await failureOf(logs('{service="gpuaas-api" | json'));
    expect(failure.type).toBe(ErrorType.ObservabilityApiError);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.message).toContain('400');
    expect(failure.message).toContain('parse error');

    const overLimit = await failureOf(logs('{service="gpuaas-api"}', 5001));
    expect(overLimit.nonRetryable).toBe(true);
    expect(overLimit.message).toContain('max entries limit');
  });

  it('an unreachable Loki is a retryable failure', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const down = new LokiClient({ baseUrl: `http://127.0.0.1:${port}`, timeoutMs: 2000 });
    const failure = await failureOf(down.queryRange({ query: '{service="x"}', start: new Date(Date.now() - 60_000), end: new Date() }));
    expect(failure.type).toBe(ErrorType.ObservabilityApiError);
    expect(failure.nonRetryable).toBe(false);
  });

  it("logs the platform API's requests with the caller's x-correlation-id, and the app runtime's services on their hosts", async () => {
    const res = await fetch(`${lab.platformUrl}/api/v1/nodes/dev-gpu-1`, {
      headers: { authorization: `Bearer ${lab.platformToken}`, 'x-correlation-id': 'c-api-test-1' },
    });
    expect(res.status).toBe(200);
    const api = await logs(seedQueries('c-api-test-1').api);
    expect(api).toEqual([
      expect.objectContaining({
        service: 'gpuaas-api',
        host_role: 'platform_control',
        host_name: 'dev-control-1',
        level: 'info',
        msg: 'request completed',
        node_id: 'dev-gpu-1',
      }),
    ]);
    // The controller ships its journal lines as it reconciles; the reset just cleared the store.
    const controller = await waitFor(async () => {
      const found = await logs('{service="slurm-reference-controller", host_role="app_control"} | json');
      return found.length > 0 ? found : undefined;
    }, 10_000);
    expect(controller[0]).toMatchObject({ host_name: 'dev-lab-1', app_slug: 'slurm-reference', component: 'controller' });
    const agent = await waitFor(async () => {
      const found = await logs('{service="node-agent", host_name="dev-gpu-1"} | json | msg=~"heartbeat ok|inventory reported"');
      return found.length > 0 ? found : undefined;
    }, 10_000);
    expect(agent[0]).toMatchObject({ host_role: 'worker_compute', node_id: 'dev-gpu-1', component: 'node-agent', level: 'info' });
  });
});

describe('Loki push', () => {
  const push = (body: unknown, contentType = 'application/json') =>
    fetch(`${lab.lokiUrl}/loki/api/v1/push`, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  const nsAgo = (ms: number) => (BigInt(Date.now() - ms) * 1_000_000n + 123_456n).toString();
  const engineLine = (id: string, msg: string) => JSON.stringify({ level: 30, time: Date.now(), service: 'gpuaas-runbooks-worker', correlation_id: id, msg });

  it('stores a pushed stream as sent (its labels, its nanosecond timestamp, its line) for the engine query to find', async () => {
    const ts = nsAgo(5_000);
    const res = await push({
      streams: [
        {
          stream: { job: 'gpuaas-runbooks', service: 'gpuaas-runbooks-worker', level: 'warning' },
          values: [[ts, engineLine('push-ok-1', 'waiting for a disruption slot'), { trace_id: 'abc' }]],
        },
      ],
    });
    expect(res.status).toBe(204);
    const events = await logs('{job="gpuaas-runbooks"} | json | correlation_id="push-ok-1"');
    expect(events).toEqual([
      {
        ts: `${new Date(Number(BigInt(ts) / 1_000_000n)).toISOString().slice(0, 19)}.${(BigInt(ts) % 1_000_000_000n).toString().padStart(9, '0')}Z`,
        service: 'gpuaas-runbooks-worker',
        correlation_id: 'push-ok-1',
        // The stream's level label, as Loki's clients send it, wins over pino's number in the line.
        level: 'warn',
        msg: 'waiting for a disruption slot',
      },
    ]);
  });

  it.each([
    ['a stream without labels', { streams: [{ stream: {}, values: [['1', 'x']] }] }, /at least one label pair is required per stream/],
    ['a bad label name', { streams: [{ stream: { 'host-role': 'x' }, values: [['1', 'x']] }] }, /label names are/],
    ['a timestamp that is not nanoseconds', { streams: [{ stream: { job: 'j' }, values: [['2026-12-04T00:00:00Z', 'x']] }] }, /integer nanoseconds/],
    ['a line over 256 KiB', { streams: [{ stream: { job: 'j' }, values: [['1', 'x'.repeat(256 * 1024 + 1)]] }] }, /max line size exceeded/],
  ])('refuses %s with a plain-text 400, storing none of the push', async (_what, bad, message) => {
    const good = { stream: { job: 'gpuaas-runbooks', service: 's' }, values: [[nsAgo(1_000), engineLine('push-bad-1', 'must not be kept')]] };
    const res = await push({ streams: [good, ...(bad as { streams: unknown[] }).streams] });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(await res.text()).toMatch(message);
    expect(await logs('{job="gpuaas-runbooks"} | json | correlation_id="push-bad-1"')).toEqual([]);
  });

  it('refuses a push that is not JSON (Promtail protobuf) with 415', async () => {
    const res = await push('\u0000snappy', 'application/x-protobuf');
    expect(res.status).toBe(415);
    expect(await res.text()).toMatch(/JSON pushes only/);
  });
});

describe('Tempo trace by id', () => {
  it('serves the trace as Tempo does (batches, base64 ids) and the client reads linked spans with error statuses', async () => {
    const incident = await inject({ scenario: 'chain-registry-controller-worker' });
    const raw = await fetch(`${lab.tempoUrl}/api/traces/${incident.trace_id}`);
    expect(raw.status).toBe(200);
    const body = (await raw.json()) as { batches: { scopeSpans: { spans: { traceId: string }[] }[] }[] };
    expect(Buffer.from(body.batches[0]!.scopeSpans[0]!.spans[0]!.traceId, 'base64').toString('hex')).toBe(incident.trace_id);

    const spans = await tempo.traceById(incident.trace_id);
    expect(spans).toHaveLength(incident.spans);
    expect(new Set(spans.map((s) => s.trace_id))).toEqual(new Set([incident.trace_id]));
    const byName = new Map(spans.map((s) => [s.name, s]));
    const root = byName.get('POST /api/v1/app-instances')!;
    expect(root).toMatchObject({ service: 'gpuaas-api', host_role: 'platform_control', host_name: 'dev-control-1', status: 'ok' });
    expect(root.parent_span_id).toBeUndefined();
    expect(byName.get('relay app_instance.deploy')).toMatchObject({ service: 'gpuaas-outbox-relay', parent_span_id: root.span_id });
    const dispatch = byName.get('dispatch deploy')!;
    expect(dispatch).toMatchObject({ service: 'gpuaas-app-runtime-worker', parent_span_id: byName.get('relay app_instance.deploy')!.span_id });
    expect(byName.get('registry GET manifest')).toMatchObject({ parent_span_id: dispatch.span_id, status: 'error', status_message: 'registry_unavailable' });
    expect(byName.get('controller deploy')).toMatchObject({
      service: 'slurm-reference-controller',
      host_role: 'app_control',
      parent_span_id: dispatch.span_id,
      status: 'error',
      attributes: { correlation_id: incident.correlation_id, component: 'controller', 'error.type': 'image_pull_failed' },
    });
    for (const s of spans) expect(Date.parse(s.end)).toBeGreaterThanOrEqual(Date.parse(s.start));
  });

  it('an unknown trace is NotFound, a malformed id InvalidInput, both non-retryable', async () => {
    const missing = await failureOf(tempo.traceById('0af7651916cd43dd8448eb211c80319c'));
    expect([missing.type, missing.nonRetryable]).toEqual([ErrorType.NotFound, true]);
    const bad = await failureOf(tempo.traceById('not-hex'));
    expect([bad.type, bad.nonRetryable]).toEqual([ErrorType.InvalidInput, true]);
  });

  it('a reset forgets every injected line and span', async () => {
    const incident = await inject({ scenario: 'worker-terminal-failure' });
    expect((await tempo.traceById(incident.trace_id)).length).toBeGreaterThan(0);
    expect((await admin('POST', '/reset')).status).toBe(200);
    expect(await logs(seedQueries(incident.correlation_id).worker_compute)).toEqual([]);
    expect((await failureOf(tempo.traceById(incident.trace_id))).type).toBe(ErrorType.NotFound);
  });
});
