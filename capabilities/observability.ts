import { trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { StepContext } from '../domain/step-context';

/** The current OpenTelemetry trace id, when an activity runs inside a traced workflow. */
export function currentTraceId(): string | undefined {
  const ctx = trace.getActiveSpan()?.spanContext();
  return ctx && ctx.traceId !== '00000000000000000000000000000000' ? ctx.traceId : undefined;
}

/** A child logger carrying the fields every log line of a step must have. */
export function stepLogger(root: Logger, ctx: StepContext): Logger {
  return root.child({
    correlation_id: ctx.correlation_id,
    workflow_id: ctx.workflow_id,
    run_id: ctx.run_id,
    runbook: ctx.runbook,
    step: ctx.step,
    node_id: ctx.node_id,
    host_name: ctx.host_name,
    host_role: ctx.host_role,
    trace_id: currentTraceId(),
  });
}
