import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { Resource } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  NoopSpanProcessor,
  SimpleSpanProcessor,
  type SpanExporter,
  type SpanProcessor,
} from '@opentelemetry/sdk-trace-base';

export interface Tracing {
  resource: Resource;
  spanProcessor: SpanProcessor;
  shutdown(): Promise<void>;
}

let installed: Tracing | undefined;

/**
 * Registers the process-wide tracer provider once. Spans go to the OTLP
 * endpoint when one is configured, to `exporter` when given (tests), and are
 * otherwise created but not exported (ids still flow into logs and evidence).
 */
export function installTracing(opts: { serviceName: string; otlpEndpoint?: string; exporter?: SpanExporter }): Tracing {
  if (installed) return installed;
  const resource = new Resource({ 'service.name': opts.serviceName });
  const spanProcessor: SpanProcessor = opts.otlpEndpoint
    ? new BatchSpanProcessor(new OTLPTraceExporter({ url: `${opts.otlpEndpoint.replace(/\/$/, '')}/v1/traces` }))
    : opts.exporter
      ? new SimpleSpanProcessor(opts.exporter)
      : new NoopSpanProcessor();
  const provider = new BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  // register() also installs the W3C trace-context propagator; without it the
  // Temporal interceptors carry no trace across API → workflow → activity.
  provider.register({ contextManager: new AsyncLocalStorageContextManager() });
  installed = { resource, spanProcessor, shutdown: () => provider.shutdown() };
  return installed;
}
