import type { StepContext } from '../../domain/step-context';
import { ORCHESTRATOR_DLQ, ORCHESTRATOR_GROUP, ORCHESTRATOR_STREAM, type OrchestratorCluster } from '../../domain/orchestrator';
import { withRedis } from './redis-connection';
import { clusterNamed } from './orchestrator-activities';
import type { RedisPersistence } from '../../domain/orchestrator-upgrade';
import { parseRedisInfo, redisPersistence } from './parse-redis-info';

/** The job stream and its consumer group as Redis reports them (XINFO, XPENDING, XLEN). */
export interface StreamState {
  stream_length: number;
  /** The id of the newest entry ever added: everything up to it was added before this read. */
  last_generated_id: string;
  /** Delivered to the group and not yet acknowledged. */
  pending: number;
  /** The oldest of those (XPENDING's summary), null when none: with the group's position, where unsettled work begins. */
  oldest_pending_id: string | null;
  dlq_length: number;
  group: { last_delivered_id: string; entries_read: number | null; lag: number | null; consumers: number } | null;
}

export interface PersistenceReading extends RedisPersistence {
  /** Redis's own clock (TIME), unix seconds: the age of a save is measured on it. */
  server_time: number;
}

/** Flat [k, v, k, v] replies (XINFO) as an object. */
function pairs(raw: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!Array.isArray(raw)) return out;
  for (let i = 0; i + 1 < raw.length; i += 2) out[String(raw[i])] = raw[i + 1];
  return out;
}

const numOrNull = (v: unknown) => (v === null || v === undefined ? null : Number(v));

/**
 * Reads of the orchestrator's Redis that its HTTP API does not offer: the
 * stream's and group's positions (the rolling upgrade checks the group's position
 * was never moved) and INFO persistence (the backup pre-check). Read only.
 */
export function createStreamActivities(deps: { clusters: readonly OrchestratorCluster[] }) {
  return {
    async readStreamState(_ctx: StepContext, cluster: string | undefined): Promise<StreamState> {
      const c = clusterNamed(deps.clusters, cluster);
      return withRedis(c.redis_url, async (redis) => {
        const info = pairs(await redis.call('XINFO', 'STREAM', ORCHESTRATOR_STREAM));
        const groups = ((await redis.call('XINFO', 'GROUPS', ORCHESTRATOR_STREAM)) as unknown[]).map(pairs);
        const g = groups.find((x) => x.name === ORCHESTRATOR_GROUP);
        const pending = (await redis.call('XPENDING', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)) as unknown[];
        return {
          stream_length: Number(info.length ?? 0),
          last_generated_id: String(info['last-generated-id'] ?? '0-0'),
          pending: Number(pending[0] ?? 0),
          oldest_pending_id: typeof pending[1] === 'string' ? pending[1] : null,
          dlq_length: Number(await redis.call('XLEN', ORCHESTRATOR_DLQ)),
          group: g
            ? {
                last_delivered_id: String(g['last-delivered-id']),
                entries_read: numOrNull(g['entries-read']),
                lag: numOrNull(g.lag),
                consumers: Number(g.consumers ?? 0),
              }
            : null,
        };
      });
    },

    async readRedisPersistence(_ctx: StepContext, cluster: string | undefined): Promise<PersistenceReading> {
      const c = clusterNamed(deps.clusters, cluster);
      return withRedis(c.redis_url, async (redis) => {
        const info = redisPersistence(parseRedisInfo(String(await redis.call('INFO', 'persistence'))));
        const [seconds] = (await redis.call('TIME')) as [string, string];
        return { ...info, server_time: Number(seconds) };
      });
    },
  };
}

export type StreamActivities = ReturnType<typeof createStreamActivities>;
