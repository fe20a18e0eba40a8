import type { ActivityInput, LocalActivityInput, Next, WorkflowInterceptorsFactory, WorkflowOutboundCallsInterceptor } from '@temporalio/workflow';
import type { StepContext } from '../domain/step-context';

/**
 * A workflow interceptor (bundled with every runbook) that gives each activity a
 * summary in the Temporal UI naming the runbook step that called it and its host
 * (the UI shows "cordonNode • cordon_node on dev-gpu-1"). Every runbook activity takes
 * the step's context first; the summary is metadata, not part of the history's determinism.
 */
export function summaryOf(activityType: string, args: unknown[]): string {
  const ctx = args[0] as Partial<StepContext> | string | undefined;
  // The few activities without a step context (inventory look-up, drills) take an id first.
  if (typeof ctx === 'string') return `for ${ctx}`;
  if (!ctx || typeof ctx !== 'object' || typeof ctx.step !== 'string') return activityType;
  return `${ctx.step}${ctx.host_name ? ` on ${ctx.host_name}` : ''}`;
}

class ActivitySummaries implements WorkflowOutboundCallsInterceptor {
  scheduleActivity(input: ActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleActivity'>) {
    return next({ ...input, options: { ...input.options, summary: input.options.summary ?? summaryOf(input.activityType, input.args) } });
  }

  scheduleLocalActivity(input: LocalActivityInput, next: Next<WorkflowOutboundCallsInterceptor, 'scheduleLocalActivity'>) {
    return next({ ...input, options: { ...input.options, summary: input.options.summary ?? summaryOf(input.activityType, input.args) } });
  }
}

export const interceptors: WorkflowInterceptorsFactory = () => ({ outbound: [new ActivitySummaries()] });
