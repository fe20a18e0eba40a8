import type { StepContext } from '../../domain/step-context';
import { statArtifactCommand, modelArtifactPath } from '../../domain/dlq';
import type { HostAccess } from '../host/host-access';

export interface ArtifactPresence {
  node_id: string;
  model: string;
  path: string;
  present: boolean;
  /** Bytes, when present. */
  size: number | null;
}

/**
 * Whether a model's artifact is where its pool workers load it from, on each GPU
 * host named (worker_compute only: `read_model_artifacts`). A read; the fix (copying
 * it back from the pull cache) is an operator's.
 */
export function createModelArtifactActivities(deps: { hosts: HostAccess }) {
  return {
    async readModelArtifacts(ctx: StepContext, model: string, nodeIds: string[]): Promise<ArtifactPresence[]> {
      const out: ArtifactPresence[] = [];
      for (const nodeId of nodeIds) {
        const res = await deps.hosts.run({ ...ctx, node_id: nodeId }, 'read_model_artifacts', statArtifactCommand(model), {
          evidenceSuffix: `stat_${model}_${nodeId}`,
        });
        const size = res.exit_code === 0 ? Number(res.stdout.trim()) : NaN;
        out.push({
          node_id: nodeId,
          model,
          path: modelArtifactPath(model),
          present: Number.isFinite(size) && size > 0,
          size: Number.isFinite(size) ? size : null,
        });
      }
      return out;
    },
  };
}

export type ModelArtifactActivities = ReturnType<typeof createModelArtifactActivities>;
