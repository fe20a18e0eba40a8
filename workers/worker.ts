import {
  makeWorkflowExporter,
  OpenTelemetryActivityInboundInterceptor,
  OpenTelemetryActivityOutboundInterceptor,
} from '@temporalio/interceptors-opentelemetry';
import { bundleWorkflowCode, NativeConnection, Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import type { RunbookActivities } from '../capabilities';
import type { Tracing } from '../runtime/tracing';

export const WORKFLOWS_PATH = require.resolve('../runbooks/registry');
const OTEL_WORKFLOW_INTERCEPTORS = require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors');
/** Names each activity in the Temporal UI after the runbook step that called it. */
const ACTIVITY_SUMMARIES = require.resolve('../engine/activity-summaries');

/** Bundles the registry's workflows with the tracing interceptors (and any others given); done once per process. */
export function bundleWorkflows(extraInterceptorModules: string[] = []): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: [OTEL_WORKFLOW_INTERCEPTORS, ACTIVITY_SUMMARIES, ...extraInterceptorModules],
  });
}

export interface RunbookWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** None for a worker that runs only workflows (the disruption ledgers). */
  activities?: RunbookActivities;
  tracing: Tracing;
  /**
   * On SIGTERM/SIGINT in-flight activities get this long to finish; then they are
   * cancelled with WORKER_SHUTDOWN, which they turn into a retryable failure
   * (host jobs keep running on the host and the next worker reattaches).
   */
  shutdownGraceMs: number;
  /** Workflows kept in memory between tasks (the SDK's default when unset); 0 replays every task from history. */
  maxCachedWorkflows?: number;
  /** Pre-built bundle (tests, fast restarts); bundled on the fly otherwise. */
  workflowBundle?: WorkflowBundleWithSourceMap;
}

export async function createRunbookWorker(opts: RunbookWorkerOptions): Promise<Worker> {
  return Worker.create({
    connection: opts.connection,
    namespace: opts.namespace,
    taskQueue: opts.taskQueue,
    workflowBundle: opts.workflowBundle ?? (await bundleWorkflows()),
    activities: opts.activities,
    interceptors: {
      activity: [(ctx) => ({ inbound: new OpenTelemetryActivityInboundInterceptor(ctx), outbound: new OpenTelemetryActivityOutboundInterceptor(ctx) })],
    },
    sinks: { exporter: makeWorkflowExporter(opts.tracing.spanProcessor, opts.tracing.resource) },
    shutdownGraceTime: opts.shutdownGraceMs,
    ...(opts.maxCachedWorkflows === undefined ? {} : { maxCachedWorkflows: opts.maxCachedWorkflows }),
    // Bound concurrent SSH sessions per worker.
    maxConcurrentActivityTaskExecutions: 50,
  });
}
