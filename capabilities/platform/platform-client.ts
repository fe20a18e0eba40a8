import { ApplicationFailure } from '@temporalio/common';
import { z } from 'zod';
import { ErrorType } from '../../domain/errors';

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
    return (await this.request('GET', '/api/v1/nodes', z.object({ nodes: z.array(NodeSchema) }))).nodes;
  }

  getNode(nodeId: string): Promise<PlatformNode> {
    return this.request('GET', `/api/v1/nodes/${encodeURIComponent(nodeId)}`, NodeSchema);
  }

  async cordon(nodeId: string, reason: string, idempotencyKey: string): Promise<PlatformNode> {
    const body = await this.request('POST', `/api/v1/nodes/${encodeURIComponent(nodeId)}/cordon`, NodeChangeSchema, { reason }, idempotencyKey);
    return body.node;
  }

  async uncordon(nodeId: string, reason: string, idempotencyKey: string): Promise<PlatformNode> {
    const body = await this.request('POST', `/api/v1/nodes/${encodeURIComponent(nodeId)}/uncordon`, NodeChangeSchema, { reason }, idempotencyKey);
    return body.node;
  }

  async listAllocations(nodeId: string): Promise<Allocation[]> {
    const body = await this.request('GET', `/api/v1/nodes/${encodeURIComponent(nodeId)}/allocations`, z.object({ allocations: z.array(AllocationSchema) }));
    return body.allocations;
  }

  async evictAllocations(nodeId: string, reason: string, idempotencyKey: string): Promise<void> {
    await this.request('POST', `/api/v1/nodes/${encodeURIComponent(nodeId)}/allocations/evict`, z.unknown(), { reason }, idempotencyKey);
  }

  async listOpenRmaTickets(nodeId: string): Promise<RmaTicket[]> {
    const body = await this.request(
      'GET',
      `/api/v1/rma-tickets?node_id=${encodeURIComponent(nodeId)}&status=open`,
      z.object({ tickets: z.array(RmaTicketSchema) }),
    );
    return body.tickets;
  }

  openRmaTicket(req: RmaTicketRequest, idempotencyKey: string): Promise<RmaTicket> {
    return this.request('POST', '/api/v1/rma-tickets', RmaTicketSchema, req, idempotencyKey);
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
