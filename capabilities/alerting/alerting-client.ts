/**
 * Prometheus's and Alertmanager's HTTP APIs as the alert check reads them: every body checked
 * with zod, every call bounded by a timeout. A server that does not answer, answers with an
 * error or with a body of another shape is a retryable AlertingApiError naming the call.
 */
import { ApplicationFailure } from '@temporalio/common';
import YAML from 'yaml';
import { z } from 'zod';
import { ErrorType } from '../../domain/errors';
import type { AlertRoute } from '../../domain/orchestrator-alerts';
import { parsePrometheusText, type PromSample } from '../orchestrator/prometheus-text';
import type { PlatformRequest } from '../platform/requests';
import { alertmanagerRequests, prometheusRequests } from './requests';

const Labels = z.record(z.string());

const RulesSchema = z.object({
  status: z.literal('success'),
  data: z.object({
    groups: z.array(
      z.object({
        name: z.string(),
        file: z.string(),
        rules: z.array(
          z.object({
            name: z.string(),
            type: z.string(),
            query: z.string(),
            duration: z.number().optional(),
            health: z.string(),
            lastError: z.string().optional(),
            labels: Labels.default({}),
            annotations: Labels.default({}),
          }),
        ),
      }),
    ),
  }),
});

export interface LoadedAlertRule {
  name: string;
  group: string;
  file: string;
  query: string;
  for_seconds: number;
  health: string;
  last_error: string | null;
  labels: Record<string, string>;
}

const AlertsSchema = z.object({
  status: z.literal('success'),
  data: z.object({ alerts: z.array(z.object({ labels: Labels, state: z.string(), activeAt: z.string().optional(), value: z.string().optional() })) }),
});
export type PrometheusAlert = z.infer<typeof AlertsSchema>['data']['alerts'][number];

const QuerySchema = z.object({
  status: z.literal('success'),
  data: z.object({ resultType: z.string(), result: z.array(z.object({ metric: Labels, value: z.tuple([z.number(), z.string()]) })) }),
});

const AmStatusSchema = z.object({
  config: z.object({ original: z.string() }),
  versionInfo: z.object({ version: z.string() }).passthrough().optional(),
});

const AmConfigSchema = z.object({
  route: z.custom<AlertRoute>((v) => typeof v === 'object' && v !== null),
  receivers: z.array(z.object({ name: z.string() }).passthrough()).default([]),
});

/** The routing tree and each receiver's integrations (`webhook`, `pagerduty`, ...), from Alertmanager's running config. */
export interface AlertmanagerRouting {
  version: string | null;
  route: AlertRoute;
  receivers: { name: string; integrations: string[] }[];
}

const AmAlertsSchema = z.array(
  z.object({
    labels: Labels,
    status: z.object({ state: z.string() }),
    receivers: z.array(z.object({ name: z.string() })),
    startsAt: z.string(),
  }),
);
export type AlertmanagerAlert = z.infer<typeof AmAlertsSchema>[number];

function failure(what: string, message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.AlertingApiError, message: `${what}: ${message}`, nonRetryable: false });
}

class JsonApi {
  constructor(
    readonly name: string,
    readonly baseUrl: string,
    private readonly timeoutMs: number,
  ) {}

  async text(r: PlatformRequest): Promise<string> {
    const url = `${this.baseUrl.replace(/\/+$/, '')}${r.path}`;
    const what = `${this.name} ${r.method} ${r.path}`;
    let res: Response;
    try {
      res = await fetch(url, { method: r.method, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (err) {
      throw failure(what, (err as Error).message);
    }
    const body = await res.text();
    if (!res.ok) throw failure(what, `${res.status} ${body.slice(0, 300)}`);
    return body;
  }

  async json<T>(r: PlatformRequest, schema: z.ZodType<T, z.ZodTypeDef, unknown>): Promise<T> {
    const what = `${this.name} ${r.method} ${r.path}`;
    let raw: unknown;
    try {
      raw = JSON.parse(await this.text(r));
    } catch (err) {
      if (err instanceof ApplicationFailure) throw err;
      throw failure(what, `not JSON: ${(err as Error).message}`);
    }
    const parsed = schema.safeParse(raw);
    if (!parsed.success) throw failure(what, `unexpected body: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    return parsed.data;
  }
}

export class PrometheusApi {
  private readonly api: JsonApi;
  constructor(baseUrl: string, timeoutMs = 10_000) {
    this.api = new JsonApi('Prometheus', baseUrl, timeoutMs);
  }

  async alertRules(): Promise<LoadedAlertRule[]> {
    const body = await this.api.json(prometheusRequests.alertRules(), RulesSchema);
    return body.data.groups.flatMap((g) =>
      g.rules
        .filter((r) => r.type === 'alerting')
        .map((r) => ({
          name: r.name,
          group: g.name,
          file: g.file,
          query: r.query,
          for_seconds: r.duration ?? 0,
          health: r.health,
          last_error: r.lastError || null,
          labels: r.labels,
        })),
    );
  }

  async alerts(): Promise<PrometheusAlert[]> {
    return (await this.api.json(prometheusRequests.alerts(), AlertsSchema)).data.alerts;
  }

  /** An instant query's first value, or null when it returns no series. */
  async scalar(promql: string): Promise<number | null> {
    const body = await this.api.json(prometheusRequests.query(promql), QuerySchema);
    const first = body.data.result[0];
    return first ? Number(first.value[1]) : null;
  }
}

export class AlertmanagerApi {
  private readonly api: JsonApi;
  constructor(baseUrl: string, timeoutMs = 10_000) {
    this.api = new JsonApi('Alertmanager', baseUrl, timeoutMs);
  }

  async ready(): Promise<void> {
    await this.api.text(alertmanagerRequests.ready());
  }

  async routing(): Promise<AlertmanagerRouting> {
    const status = await this.api.json(alertmanagerRequests.status(), AmStatusSchema);
    let doc: unknown;
    try {
      doc = YAML.parse(status.config.original);
    } catch (err) {
      throw failure('Alertmanager GET /api/v2/status', `config is not YAML: ${(err as Error).message}`);
    }
    const config = AmConfigSchema.safeParse(doc);
    if (!config.success) throw failure('Alertmanager GET /api/v2/status', 'config has no route or receivers');
    return {
      version: status.versionInfo?.version ?? null,
      route: config.data.route,
      receivers: config.data.receivers.map((r) => ({
        name: r.name,
        integrations: Object.entries(r)
          .filter(([k, v]) => k.endsWith('_configs') && Array.isArray(v) && v.length > 0)
          .map(([k]) => k.replace(/_configs$/, '')),
      })),
    };
  }

  async activeAlerts(): Promise<AlertmanagerAlert[]> {
    return this.api.json(alertmanagerRequests.activeAlerts(), AmAlertsSchema);
  }

  async metrics(): Promise<PromSample[]> {
    const text = await this.api.text(alertmanagerRequests.metrics());
    try {
      return parsePrometheusText(text);
    } catch (err) {
      throw failure('Alertmanager GET /metrics', (err as Error).message);
    }
  }
}
