import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { ErrorType } from '../../domain/errors';
import type { OrchestratorCluster } from '../../domain/orchestrator';
import type { PlatformRequest } from '../platform/requests';
import { parsePrometheusText, type PromSample } from './prometheus-text';
import { orchestratorRequests as req } from './requests';

export const OrchestratorPoolSchema = z.object({
  pool_id: z.string(),
  node_id: z.string(),
  model: z.string(),
  workers: z.number().int(),
  status: z.string(),
  memory_mib: z.number(),
  worker_pids: z.array(z.number().int()),
});
export type OrchestratorPool = z.infer<typeof OrchestratorPoolSchema>;

export const LeaseSchema = z.object({
  lease_id: z.string(),
  job_id: z.string(),
  pool_id: z.string(),
  node_id: z.string(),
  worker_pid: z.number().int(),
  replica_id: z.string(),
});
export type OrchestratorLease = z.infer<typeof LeaseSchema>;

const ReplicaRefSchema = z.object({ replica_id: z.string(), node_id: z.string(), pid: z.number().int() });
export const LeaderStatusSchema = z.object({
  leader: ReplicaRefSchema.extend({ version: z.string(), heartbeat_age_ms: z.number() }).nullable(),
  self: z.object({ replica_id: z.string(), node_id: z.string(), is_leader: z.boolean() }),
  lock: z.object({
    name: z.string(),
    backend: z.string(),
    holder_session_id: z.number().int().nullable(),
    holder_replica: ReplicaRefSchema.extend({ heartbeat_age_ms: z.number() }).nullable(),
  }),
  replicas: z.array(ReplicaRefSchema.extend({ is_leader: z.boolean(), lock_session_id: z.number().int().nullable(), heartbeat_age_ms: z.number() })),
});
export type LeaderStatus = z.infer<typeof LeaderStatusSchema>;

export const HealthSchema = z.object({
  status: z.string(),
  replica: z.string(),
  node_id: z.string(),
  pid: z.number().int(),
  version: z.string(),
  leader: z.boolean(),
});
export type ReplicaHealth = z.infer<typeof HealthSchema>;

const StopSchema = z.object({ pool_id: z.string(), status: z.string() });

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * The orchestrator's HTTP API across its replicas (seed 004). Reads go to the
 * first replica that answers; pool changes go to the leader, found through
 * /status/leader (any other replica answers 409 not_leader). A replica that is
 * down or cut off from its backends (503) is skipped; none answering is a
 * retryable OrchestratorApiError. Mutations carry an Idempotency-Key.
 */
export class OrchestratorApi {
  constructor(
    readonly cluster: OrchestratorCluster,
    private readonly timeoutMs = 10_000,
  ) {}

  async health(nodeId: string): Promise<ReplicaHealth | null> {
    const replica = this.cluster.replicas.find((r) => r.node_id === nodeId);
    if (!replica) throw new RangeError(`${nodeId} runs no replica of ${this.cluster.name}`);
    try {
      return HealthSchema.parse(JSON.parse(await this.call(replica.api_url, req.health(), undefined, [200, 503])));
    } catch (err) {
      if (err instanceof HttpError || (err as Error).name === 'TypeError' || (err as Error).name === 'TimeoutError') return null;
      throw err;
    }
  }

  leaderStatus(): Promise<LeaderStatus> {
    return this.read(req.leaderStatus(), LeaderStatusSchema);
  }

  async pools(): Promise<OrchestratorPool[]> {
    return (await this.read(req.listPools(), z.object({ pools: z.array(OrchestratorPoolSchema) }))).pools;
  }

  async leases(poolId?: string): Promise<OrchestratorLease[]> {
    return (await this.read(req.listLeases(poolId), z.object({ leases: z.array(LeaseSchema) }))).leases;
  }

  async metrics(): Promise<PromSample[]> {
    return parsePrometheusText(await this.readText(req.metrics()));
  }

  stopPool(poolId: string, idempotencyKey: string): Promise<{ pool_id: string; status: string }> {
    return this.onLeader(req.stopPool(poolId), StopSchema, idempotencyKey);
  }

  stopAllPools(idempotencyKey: string): Promise<{ stopping: string[] }> {
    return this.onLeader(req.stopAllPools(), z.object({ stopping: z.array(z.string()) }), idempotencyKey);
  }

  startPool(poolId: string, idempotencyKey: string): Promise<{ pool_id: string; status: string }> {
    return this.onLeader(req.startPool(poolId), StopSchema, idempotencyKey);
  }

  async setMaintenance(mode: 'drain' | 'normal', idempotencyKey: string): Promise<void> {
    await this.readText(req.setMaintenance(mode), idempotencyKey);
  }

  // ---------------------------------------------------------------------------------------------

  private async read<T>(r: PlatformRequest, schema: z.ZodType<T>): Promise<T> {
    return this.parse(r, schema, await this.readText(r));
  }

  /** The first replica's answer; replicas that are down or cut off (503) are skipped. */
  private async readText(r: PlatformRequest, idempotencyKey?: string): Promise<string> {
    const problems: string[] = [];
    for (const replica of this.cluster.replicas) {
      try {
        return await this.call(replica.api_url, r, idempotencyKey);
      } catch (err) {
        if (err instanceof HttpError && err.status !== 503) throw this.failure(r, err.message, err.status);
        problems.push(`${replica.node_id}: ${(err as Error).message}`);
      }
    }
    throw this.failure(r, `no replica answered (${problems.join('; ')})`);
  }

  private async onLeader<T>(r: PlatformRequest, schema: z.ZodType<T>, idempotencyKey: string): Promise<T> {
    const status = await this.leaderStatus();
    const leader = status.leader && this.cluster.replicas.find((x) => x.node_id === status.leader!.node_id);
    if (!leader) throw this.failure(r, 'no replica leads now (GET /status/leader)');
    try {
      return this.parse(r, schema, await this.call(leader.api_url, r, idempotencyKey));
    } catch (err) {
      // 409 not_leader: leadership moved between the two calls; the activity's retry asks again.
      if (err instanceof HttpError) throw this.failure(r, err.message, err.status === 409 ? 503 : err.status);
      throw this.failure(r, `${leader.node_id}: ${(err as Error).message}`);
    }
  }

  private async call(baseUrl: string, r: PlatformRequest, idempotencyKey?: string, okStatuses?: number[]): Promise<string> {
    if (r.mutates && !idempotencyKey) throw new Error(`${r.method} ${r.path} changes something and needs an idempotency key`);
    const headers: Record<string, string> = { accept: 'application/json, text/plain' };
    if (r.body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    const res = await fetch(new URL(r.path, baseUrl), {
      method: r.method,
      headers,
      body: r.body === undefined ? undefined : JSON.stringify(r.body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok && !okStatuses?.includes(res.status)) throw new HttpError(res.status, text, `${r.method} ${r.path} → ${res.status}: ${text.slice(0, 300)}`);
    return text;
  }

  private parse<T>(r: PlatformRequest, schema: z.ZodType<T>, text: string): T {
    const parsed = schema.safeParse(text ? JSON.parse(text) : undefined);
    if (parsed.success) return parsed.data;
    throw ApplicationFailure.create({
      type: ErrorType.OrchestratorApiError,
      message: `${r.method} ${r.path}: unexpected response shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
      nonRetryable: true,
    });
  }

  private failure(r: PlatformRequest, message: string, status?: number): ApplicationFailure {
    const retryable = status === undefined || status >= 500 || status === 429 || status === 408;
    return ApplicationFailure.create({
      type: status === 404 ? ErrorType.NotFound : ErrorType.OrchestratorApiError,
      message: `${this.cluster.name}: ${message.startsWith(r.method) ? message : `${r.method} ${r.path}: ${message}`}`,
      nonRetryable: !retryable,
      details: status === undefined ? [] : [{ status }],
    });
  }
}
