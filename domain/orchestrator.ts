import { z } from 'zod';
import { NodeIdSchema } from './inventory';

/**
 * The GPU orchestrator (seed 004) as the engine reaches it: replicas' HTTP APIs,
 * the job streams in Redis, the leader lock in its SQL database. Names the page
 * gives are fixed here once; the runbooks never spell them again.
 */
export const ORCHESTRATOR_STREAM = 'stream:orchestrator:inference_jobs';
export const ORCHESTRATOR_DLQ = `${ORCHESTRATOR_STREAM}:dlq`;
export const ORCHESTRATOR_GROUP = 'cg:inference';
export const DEFAULT_LEADER_LOCK = 'gpu_orchestrator_leader';

/** A pool id as the orchestrator's API accepts it in a path. */
export const PoolIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'pool_id: letters, digits, ".", "_" or "-", at most 64 characters');

export const ClusterNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'cluster: lowercase letters, digits and "-", at most 63 characters');

export const OrchestratorClusterSchema = z
  .object({
    name: ClusterNameSchema,
    /** Every replica's API (the page's port 8008); reads go to any, pool changes to the leader. */
    replicas: z.array(z.object({ node_id: NodeIdSchema, api_url: z.string().url() }).strict()).min(1),
    redis_url: z.string().regex(/^rediss?:\/\/\S+$/, 'expected redis://[:password@]host:port[/db]'),
    db_url: z.string().regex(/^(mysql|postgres|postgresql):\/\/\S+$/, 'expected mysql:// or postgres://'),
    lock_name: z.string().min(1).max(64).default(DEFAULT_LEADER_LOCK),
  })
  .strict();
export type OrchestratorCluster = z.infer<typeof OrchestratorClusterSchema>;

export const OrchestratorClustersSchema = z
  .array(OrchestratorClusterSchema)
  .refine((cs) => new Set(cs.map((c) => c.name)).size === cs.length, 'cluster names must be unique');

/**
 * The cluster a run names, or the only one configured when it names none. Throws a
 * RangeError naming what is configured; the activities turn it into a non-retryable failure.
 */
export function pickCluster(clusters: readonly OrchestratorCluster[], name: string | undefined): OrchestratorCluster {
  const names = clusters.map((c) => c.name).join(', ') || 'none';
  if (name === undefined) {
    if (clusters.length === 1) return clusters[0]!;
    throw new RangeError(`no cluster named and ${clusters.length} configured (${names}): name one`);
  }
  const found = clusters.find((c) => c.name === name);
  if (!found) throw new RangeError(`no orchestrator cluster ${name} (configured: ${names})`);
  return found;
}
