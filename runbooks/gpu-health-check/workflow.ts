import { proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { GpuActivities } from '../../capabilities/gpu/gpu-activities';
import type { RunReport } from '../../domain/runbook';
import { ActivityOptionSets } from '../../engine/activity-options';
import { parseWorkflowInput, resolveTarget } from '../../engine/target';
import { gpuHealthCheckRunbook } from './definition';
import { RunbookRun, runRunbook, type RunbookResult } from '../../engine/runner';
import { GpuHealthCheckInputSchema, RUNBOOK_GPU_HEALTH_CHECK, healthCheckRequestSignal, type GpuHealthCheckRequest } from './input';
import { assessGpuHealth } from './policies/assess-health';

const acts = {
  gpuRead: proxyActivities<GpuActivities>(ActivityOptionSets.hostRead),
};

/**
 * gpu-health-check: is one worker fit to take work, read only.
 *
 * pre-checks (the target is an inventoried worker_compute host) → read the GPU
 * table and this boot's Xid lines over SSH → verify: assess → healthy or
 * unhealthy, with every problem named. Nothing on the host or the platform changes.
 */
export async function gpuHealthCheck(request: GpuHealthCheckRequest): Promise<RunReport> {
  const parsed = parseWorkflowInput(GpuHealthCheckInputSchema, request);
  const input = { ...parsed, correlation_id: parsed.correlation_id ?? workflowInfo().workflowId };
  const run = new RunbookRun({ runbook: RUNBOOK_GPU_HEALTH_CHECK, correlationId: input.correlation_id, runMode: input.run_mode, nodeId: input.node_id });
  setHandler(healthCheckRequestSignal, (req) => run.queueEvidence('request', 'alert', `check requested again by ${req.source}`, req, req.correlation_id));

  return runRunbook(run, input, async (): Promise<RunbookResult> => {
    run.phase('pre_checks');
    const host = await resolveTarget(run, input.node_id, gpuHealthCheckRunbook.targetAction, 'a GPU health check');
    const observed = await run.step('read_gpu_state', (ctx) => acts.gpuRead.readGpuObservations(ctx, null), {
      describe: (o) => `${o.table.gpus.length} GPU(s), ${o.table.lost_gpus.length} lost, ${o.xids.length} Xid line(s) this boot`,
    });

    run.phase('verify');
    const health = assessGpuHealth(observed.table, host.gpu_count);
    await run.step(
      'assess_health',
      (ctx) => run.evidence(ctx, 'classification', health.healthy ? 'healthy' : health.problems.join('; '), { health, xids: observed.xids }),
      {
        describe: () => (health.healthy ? `all ${host.gpu_count} GPUs healthy` : health.problems.join('; ')),
      },
    );
    return health.healthy
      ? { outcome: 'healthy', summary: `${host.hostname}: all ${host.gpu_count} GPUs visible and healthy` }
      : { outcome: 'unhealthy', summary: `${host.hostname}: ${health.problems.join('; ')}` };
  });
}
