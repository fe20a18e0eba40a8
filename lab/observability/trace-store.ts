/**
 * The spans the lab recorded, served as Tempo serves a trace by id: OTLP
 * resource spans under `batches`, one batch per emitting resource (service,
 * host), ids base64-encoded as Tempo's protobuf JSON writes them, times in
 * nanoseconds as strings, enums by name. Bounded like the log store.
 */
import type { HostRole } from '../../domain/host-roles';

export type SpanStatusCode = 'ok' | 'error' | 'unset';

export interface LabSpan {
  /** 32 lowercase hex characters. */
  traceId: string;
  /** 16 lowercase hex characters. */
  spanId: string;
  parentSpanId?: string;
  service: string;
  hostRole?: HostRole;
  hostName?: string;
  name: string;
  kind: 'server' | 'client' | 'internal' | 'producer' | 'consumer';
  startNs: bigint;
  endNs: bigint;
  status: SpanStatusCode;
  statusMessage?: string;
  attributes: Record<string, string | number | boolean>;
}

export const DEFAULT_SPAN_CAP = 10_000;

const hexToBase64 = (hex: string) => Buffer.from(hex, 'hex').toString('base64');

type AnyValue = { stringValue: string } | { intValue: string } | { boolValue: boolean } | { doubleValue: number };
function anyValue(v: string | number | boolean): AnyValue {
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  return Number.isInteger(v) ? { intValue: String(v) } : { doubleValue: v };
}
const keyValues = (attrs: Record<string, string | number | boolean>) => Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));

const STATUS_CODES = { ok: 'STATUS_CODE_OK', error: 'STATUS_CODE_ERROR', unset: 'STATUS_CODE_UNSET' } as const;

export class LabTraceStore {
  private spans: LabSpan[] = [];

  constructor(readonly cap = DEFAULT_SPAN_CAP) {}

  record(span: LabSpan): void {
    if (!/^[0-9a-f]{32}$/.test(span.traceId) || !/^[0-9a-f]{16}$/.test(span.spanId)) {
      throw new RangeError(`span ids must be lowercase hex (trace 32, span 16 characters): ${span.traceId}/${span.spanId}`);
    }
    this.spans.push(span);
    if (this.spans.length > this.cap) this.spans.splice(0, this.spans.length - this.cap);
  }

  get size(): number {
    return this.spans.length;
  }

  clear(): void {
    this.spans = [];
  }

  /** Tempo's GET /api/traces/<id> body, or undefined when no span of the trace is kept. */
  otlpTrace(traceIdHex: string): { batches: unknown[] } | undefined {
    const spans = this.spans.filter((s) => s.traceId === traceIdHex);
    if (spans.length === 0) return undefined;
    const batches = new Map<string, { resource: { attributes: unknown[] }; scopeSpans: [{ scope: { name: string }; spans: unknown[] }] }>();
    for (const s of spans) {
      const key = JSON.stringify([s.service, s.hostRole, s.hostName]);
      let batch = batches.get(key);
      if (!batch) {
        const resource: Record<string, string> = { 'service.name': s.service };
        if (s.hostName) resource['host.name'] = s.hostName;
        if (s.hostRole) resource['host.role'] = s.hostRole;
        batch = { resource: { attributes: keyValues(resource) }, scopeSpans: [{ scope: { name: 'gpuaas-lab' }, spans: [] }] };
        batches.set(key, batch);
      }
      batch.scopeSpans[0].spans.push({
        traceId: hexToBase64(s.traceId),
        spanId: hexToBase64(s.spanId),
        ...(s.parentSpanId ? { parentSpanId: hexToBase64(s.parentSpanId) } : {}),
        name: s.name,
        kind: `SPAN_KIND_${s.kind.toUpperCase()}`,
        startTimeUnixNano: s.startNs.toString(),
        endTimeUnixNano: s.endNs.toString(),
        attributes: keyValues(s.attributes),
        status: s.status === 'unset' ? {} : { code: STATUS_CODES[s.status], ...(s.statusMessage ? { message: s.statusMessage } : {}) },
      });
    }
    return { batches: [...batches.values()] };
  }
}
