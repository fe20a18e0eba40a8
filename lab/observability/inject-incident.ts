/**
 * Writes one incident scenario into the lab's log and trace stores as a real
 * fleet would have recorded it: every event a JSON line on its service's
 * stream (host labels of the host that wrote it), the span events as one trace
 * under the scenario's root request, and noise from other requests around it.
 * An evidence gap leaves out what a badly instrumented fleet leaves out.
 */
import { randomBytes } from 'node:crypto';
import type { HostRole } from '../../domain/host-roles';
import type { EvidenceGap, IncidentScenario, ScenarioEvent } from './incident-scenarios';
import type { LabLogStore, StreamLabels } from './log-store';
import { toNs, type LogFields } from './log-store';
import type { LabSpan, LabTraceStore } from './trace-store';

export interface InjectRequest {
  scenario: IncidentScenario;
  correlationId: string;
  /** 32 lowercase hex characters. */
  traceId: string;
  startAt: Date;
  omit: readonly EvidenceGap[];
  noiseLines: number;
  /** The lab host of each role; `worker` is the GPU worker the scenario's worker lines come from. */
  hosts: Record<HostRole, string>;
}

export interface InjectedIncident {
  scenario: string;
  failure_class: string;
  first_failing_role: HostRole;
  correlation_id: string;
  trace_id: string;
  started_at: string;
  ended_at: string;
  /** The scenario's JSON lines (those a query by its correlation id finds, unless omitted). */
  lines: number;
  /** Its plain-text lines: found by stream and text, never by correlation id. */
  text_lines: number;
  noise_lines: number;
  spans: number;
  omitted: EvidenceGap[];
  host_state: IncidentScenario['host_state'] | null;
  /** The process the host state put on its host, when the scenario implies one. */
  started_process?: { node_id: string; pid: number; args: string };
}

const NOISE_SOURCES: { role: HostRole; service: string; msg: string; component: string }[] = [
  { role: 'platform_control', service: 'gpuaas-api', msg: 'request completed', component: 'api' },
  { role: 'platform_control', service: 'gpuaas-outbox-relay', msg: 'batch relayed', component: 'outbox' },
  { role: 'platform_control', service: 'gpuaas-app-runtime-worker', msg: 'reconcile tick', component: 'app-runtime' },
  { role: 'app_control', service: 'slurm-reference-controller', msg: 'reconcile pass', component: 'controller' },
  { role: 'worker_compute', service: 'node-agent', msg: 'heartbeat sent', component: 'node-agent' },
  { role: 'worker_compute', service: 'slurmd', msg: 'node health check ok', component: 'slurmd' },
];

export const newTraceId = () => randomBytes(16).toString('hex');
const newSpanId = () => randomBytes(8).toString('hex');

export function injectIncident(logs: LabLogStore, traces: LabTraceStore, req: InjectRequest): InjectedIncident {
  const { scenario, correlationId, traceId, startAt, omit, hosts } = req;
  const at = (ms: number) => new Date(startAt.getTime() + ms);
  const omitRole = omit.includes('host_role');
  const omitCorrelation = omit.includes('correlation_id');
  const spanIds = new Map<string, string>();
  let rootSpanId: string | undefined;
  let spans = 0;

  const hostOf = (e: ScenarioEvent) => (e.host === 'worker' ? hosts.worker_compute : hosts[e.role]);
  for (const e of scenario.events) {
    const hostName = hostOf(e);
    const dropRole = omitRole && e.role === scenario.first_failing_role;
    const labels: StreamLabels = { service: e.service, host_name: hostName, host_role: dropRole ? undefined : e.role };
    if (e.format === 'text') {
      logs.writeLine(labels, e.msg, at(e.after_ms));
      continue;
    }
    const fields: LogFields = {
      level: e.level,
      msg: e.msg,
      correlation_id: omitCorrelation && e.service !== 'gpuaas-api' ? undefined : correlationId,
      trace_id: traceId,
      component: e.component,
      error: e.error,
      node_id: e.role === 'worker_compute' ? hostName : undefined,
      app_slug: e.role === 'app_control' ? scenario.app_slug : undefined,
    };
    logs.write(labels, fields, at(e.after_ms));
    if (!e.span) continue;
    const spanId = newSpanId();
    const parent = e.span.parent ? spanIds.get(e.span.parent) : rootSpanId;
    if (e.span.parent && !parent) throw new Error(`scenario ${scenario.id}: span ${e.span.name} names parent ${e.span.parent} before it exists`);
    const failed = e.level === 'error' || e.level === 'fatal';
    const span: LabSpan = {
      traceId,
      spanId,
      parentSpanId: parent,
      service: e.service,
      hostRole: dropRole ? undefined : e.role,
      hostName,
      name: e.span.name,
      kind: parent ? 'internal' : 'server',
      startNs: toNs(at(e.after_ms)),
      endNs: toNs(at(e.after_ms + (e.span.duration_ms ?? 120))),
      status: failed ? 'error' : 'ok',
      statusMessage: failed ? (e.error ?? e.msg) : undefined,
      attributes: { correlation_id: correlationId, ...(e.component ? { component: e.component } : {}), ...(e.error ? { 'error.type': e.error } : {}) },
    };
    traces.record(span);
    spans++;
    spanIds.set(e.span.name, spanId);
    rootSpanId ??= spanId;
  }

  const lastMs = Math.max(...scenario.events.map((e) => e.after_ms));
  const firstError = scenario.events.find((e) => e.level === 'error' || e.level === 'fatal');
  for (let i = 0; i < req.noiseLines; i++) {
    const src = NOISE_SOURCES[i % NOISE_SOURCES.length]!;
    const ms = -30_000 + Math.round(((lastMs + 60_000) * i) / Math.max(1, req.noiseLines - 1));
    // Every fifth noise line is another request failing the same way: a query must tell them apart by correlation id.
    const sameFailure = firstError && i % 5 === 4;
    const role = sameFailure ? firstError.role : src.role;
    const hostName = hosts[role];
    logs.write(
      { service: sameFailure ? firstError.service : src.service, host_role: role, host_name: hostName },
      {
        level: sameFailure ? firstError.level : 'info',
        msg: sameFailure ? firstError.msg : src.msg,
        correlation_id: `c-noise-${randomBytes(6).toString('hex')}`,
        trace_id: newTraceId(),
        component: sameFailure ? firstError.component : src.component,
        error: sameFailure ? firstError.error : undefined,
        node_id: role === 'worker_compute' ? hostName : undefined,
      },
      at(ms),
    );
  }

  return {
    scenario: scenario.id,
    failure_class: scenario.failure_class,
    first_failing_role: scenario.first_failing_role,
    correlation_id: correlationId,
    trace_id: traceId,
    started_at: startAt.toISOString(),
    ended_at: at(lastMs).toISOString(),
    lines: scenario.events.filter((e) => e.format !== 'text').length,
    text_lines: scenario.events.filter((e) => e.format === 'text').length,
    noise_lines: req.noiseLines,
    spans,
    omitted: [...omit],
    host_state: scenario.host_state ?? null,
  };
}
