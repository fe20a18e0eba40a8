/**
 * A Tempo trace (OTLP resource spans, as GET /api/traces/<id> answers) as the
 * engine's Span[]: ids in lowercase hex whether Tempo wrote them base64 (its
 * protobuf JSON does) or hex (the OTLP JSON spec), times in RFC 3339, the
 * resource's service and host on every span, attributes flattened to strings.
 */
import { z } from 'zod';
import { HostRoleSchema } from '../../domain/host-roles';
import { SpanSchema, type Span } from '../../domain/incident-evidence';
import { nsToRfc3339 } from './log-event-from-loki';

const AnyValue: z.ZodType<unknown> = z.lazy(() =>
  z
    .object({
      stringValue: z.string().optional(),
      intValue: z.union([z.string(), z.number()]).optional(),
      doubleValue: z.union([z.number(), z.string()]).optional(),
      boolValue: z.boolean().optional(),
      arrayValue: z.object({ values: z.array(AnyValue).optional() }).optional(),
      kvlistValue: z.object({ values: z.array(KeyValue).optional() }).optional(),
    })
    .passthrough(),
);
const KeyValue: z.ZodType<{ key: string; value?: unknown }> = z.lazy(() => z.object({ key: z.string(), value: AnyValue.optional() }));

const OtlpSpan = z.object({
  traceId: z.string(),
  spanId: z.string(),
  parentSpanId: z.string().optional(),
  name: z.string(),
  startTimeUnixNano: z.union([z.string().regex(/^\d+$/), z.number().int()]),
  endTimeUnixNano: z.union([z.string().regex(/^\d+$/), z.number().int()]),
  attributes: z.array(KeyValue).optional(),
  status: z.object({ code: z.union([z.string(), z.number()]).optional(), message: z.string().optional() }).optional(),
});
const ResourceSpans = z.object({
  resource: z.object({ attributes: z.array(KeyValue).optional() }).optional(),
  scopeSpans: z.array(z.object({ spans: z.array(OtlpSpan).optional() })).optional(),
  // Tempo before 2.0 wrote the scope under its older name.
  instrumentationLibrarySpans: z.array(z.object({ spans: z.array(OtlpSpan).optional() })).optional(),
});
/** Tempo's /api/traces answers `batches`; its v2 API and the OTLP spec say `resourceSpans`. */
export const OtlpTrace = z.union([
  z.object({ batches: z.array(ResourceSpans) }),
  z.object({ resourceSpans: z.array(ResourceSpans) }),
  z.object({ trace: z.object({ resourceSpans: z.array(ResourceSpans) }) }),
]);
export type OtlpTrace = z.infer<typeof OtlpTrace>;

/** A trace or span id in lowercase hex, from hex or base64 of `bytes` bytes. */
export function idToHex(raw: string, bytes: 8 | 16): string {
  if (new RegExp(`^[0-9a-fA-F]{${bytes * 2}}$`).test(raw)) return raw.toLowerCase();
  const decoded = Buffer.from(raw, 'base64');
  if (decoded.length !== bytes || decoded.toString('base64').replace(/=+$/, '') !== raw.replace(/=+$/, '')) {
    throw new RangeError(`not a ${bytes}-byte id in hex or base64: ${JSON.stringify(raw)}`);
  }
  return decoded.toString('hex');
}

function valueToString(v: unknown): string {
  const value = (v ?? {}) as Record<string, unknown>;
  if (typeof value.stringValue === 'string') return value.stringValue;
  if (value.intValue !== undefined) return String(value.intValue);
  if (value.doubleValue !== undefined) return String(value.doubleValue);
  if (typeof value.boolValue === 'boolean') return String(value.boolValue);
  if (value.arrayValue) return JSON.stringify(((value.arrayValue as { values?: unknown[] }).values ?? []).map(valueToString));
  if (value.kvlistValue) return JSON.stringify(attributeMap((value.kvlistValue as { values?: { key: string; value?: unknown }[] }).values));
  return '';
}

function attributeMap(kvs: { key: string; value?: unknown }[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs ?? []) out[kv.key] = valueToString(kv.value);
  return out;
}

function statusOf(code: string | number | undefined): Span['status'] {
  if (code === 2 || code === 'STATUS_CODE_ERROR' || code === 'ERROR') return 'error';
  if (code === 1 || code === 'STATUS_CODE_OK' || code === 'OK') return 'ok';
  return 'unset';
}

/** Resource and span attributes that name the host role, in the order they are trusted. */
const ROLE_KEYS = ['host.role', 'host_role', 'gpuaas.host_role'];

export function spansFromOtlp(trace: OtlpTrace): Span[] {
  const batches = 'batches' in trace ? trace.batches : 'resourceSpans' in trace ? trace.resourceSpans : trace.trace.resourceSpans;
  const spans: Span[] = [];
  for (const batch of batches) {
    const resource = attributeMap(batch.resource?.attributes);
    const scopes = [...(batch.scopeSpans ?? []), ...(batch.instrumentationLibrarySpans ?? [])];
    for (const s of scopes.flatMap((scope) => scope.spans ?? [])) {
      const attributes = attributeMap(s.attributes);
      const roleRaw = ROLE_KEYS.map((k) => attributes[k] ?? resource[k]).find((v) => v !== undefined);
      const role = HostRoleSchema.safeParse(roleRaw);
      const hostName = attributes['host.name'] ?? resource['host.name'];
      for (const k of [...ROLE_KEYS, 'host.name']) delete attributes[k];
      spans.push(
        SpanSchema.parse({
          trace_id: idToHex(s.traceId, 16),
          span_id: idToHex(s.spanId, 8),
          ...(s.parentSpanId ? { parent_span_id: idToHex(s.parentSpanId, 8) } : {}),
          service: resource['service.name'] ?? 'unknown',
          name: s.name,
          start: nsToRfc3339(String(s.startTimeUnixNano)),
          end: nsToRfc3339(String(s.endTimeUnixNano)),
          status: statusOf(s.status?.code),
          ...(s.status?.message ? { status_message: s.status.message } : {}),
          ...(role.success ? { host_role: role.data } : {}),
          ...(hostName ? { host_name: hostName } : {}),
          attributes,
        }),
      );
    }
  }
  return spans.sort((a, b) => a.start.localeCompare(b.start));
}
