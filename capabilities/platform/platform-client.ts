import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { ErrorType } from '../../domain/errors';
import { platformRequests, type PlatformRequest } from './requests';

export const NodeSchema = z.object({
  node_id: z.string(),
  schedulable: z.boolean(),
  cordon_reason: z.string().nullable(),
});
export type PlatformNode = z.infer<typeof NodeSchema>;
const NodeChangeSchema = z.object({ node: NodeSchema });

export const AllocationSchema = z.object({
  id: z.string(),
  tenant: z.string(),
  gpu_indexes: z.array(z.number().int()),
  started_at: z.string(),
});
export type Allocation = z.infer<typeof AllocationSchema>;

export const RmaTicketSchema = z.object({
  ticket_id: z.string(),
  node_id: z.string(),
  status: z.string(),
  created_at: z.string(),
});
export type RmaTicket = z.infer<typeof RmaTicketSchema>;

export interface RmaTicketRequest {
  node_id: string;
  gpu_uuid?: string;
  summary: string;
  evidence: Record<string, unknown>;
}

export interface PlatformClientOptions {
  baseUrl: string;
  token: string;
  timeoutMs?: number;
}

/**
 * Typed client for the GPU platform API. Every mutation carries an
 * Idempotency-Key so a retried activity never applies its effect twice.
 * Responses are validated; an unexpected shape is an error, not a guess.
 */
export class PlatformClient {
  private readonly timeoutMs: number;
  constructor(private readonly opts: PlatformClientOptions) {
    this.timeoutMs = opts.timeoutMs ?? 15_000;
  }

  async listNodes(): Promise<PlatformNode[]> {
    return (await this.send(platformRequests.listNodes(), z.object({ nodes: z.array(NodeSchema) }))).nodes;
  }

  getNode(nodeId: string): Promise<PlatformNode> {
    return this.send(platformRequests.getNode(nodeId), NodeSchema);
  }

  async cordon(nodeId: string, reason: string, idempotencyKey: string): Promise<PlatformNode> {
    return (await this.send(platformRequests.cordon(nodeId, reason), NodeChangeSchema, idempotencyKey)).node;
  }

  async uncordon(nodeId: string, reason: string, idempotencyKey: string): Promise<PlatformNode> {
    return (await this.send(platformRequests.uncordon(nodeId, reason), NodeChangeSchema, idempotencyKey)).node;
  }

  async listAllocations(nodeId: string): Promise<Allocation[]> {
    return (await this.send(platformRequests.listAllocations(nodeId), z.object({ allocations: z.array(AllocationSchema) }))).allocations;
  }

  async evictAllocations(nodeId: string, reason: string, idempotencyKey: string): Promise<void> {
    await this.send(platformRequests.evictAllocations(nodeId, reason), z.unknown(), idempotencyKey);
  }

  async listOpenRmaTickets(nodeId: string): Promise<RmaTicket[]> {
    return (await this.send(platformRequests.listOpenRmaTickets(nodeId), z.object({ tickets: z.array(RmaTicketSchema) }))).tickets;
  }

  openRmaTicket(req: RmaTicketRequest, idempotencyKey: string): Promise<RmaTicket> {
    return this.send(platformRequests.openRmaTicket(req), RmaTicketSchema, idempotencyKey);
  }

  /** Sends one of the requests tables (platform, app runtime); its answer must match `schema`. */
  send<T>(req: PlatformRequest, schema: z.ZodType<T>, idempotencyKey?: string): Promise<T> {
    if (req.mutates && !idempotencyKey) throw new Error(`${req.method} ${req.path} changes something and needs an idempotency key`);
    return this.request(req.method, req.path, schema, req.body, idempotencyKey);
  }

  private async request<T>(method: 'GET' | 'POST', path: string, schema: z.ZodType<T>, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.opts.token}`, accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (idempotencyKey) headers['idempotency-key'] = idempotencyKey;
    let res: Response;
    try {
      res = await fetch(new URL(path, this.opts.baseUrl), {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw ApplicationFailure.create({ type: ErrorType.PlatformApiError, message: `${method} ${path}: ${(e as Error).message}` });
    }
    const text = await res.text();
    if (!res.ok) {
      const retryable = res.status >= 500 || res.status === 429 || res.status === 408;
      throw ApplicationFailure.create({
        type: res.status === 404 ? ErrorType.NotFound : ErrorType.PlatformApiError,
        message: `${method} ${path} → ${res.status}: ${text.slice(0, 500)}`,
        nonRetryable: !retryable,
        details: [{ status: res.status }],
      });
    }
    const parsed = schema.safeParse(text ? JSON.parse(text) : undefined);
    if (!parsed.success) {
      throw ApplicationFailure.create({
        type: ErrorType.PlatformApiError,
        message: `${method} ${path}: unexpected response shape: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        nonRetryable: true,
      });
    }
    return parsed.data;
  }
}
