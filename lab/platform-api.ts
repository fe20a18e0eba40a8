/**
 * The simulated cloud platform's REST API (/api/v1): node cordon state,
 * allocations, forced eviction and RMA tickets. Bearer token on every route;
 * Idempotency-Key required on every POST.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NodeIdSchema } from '../domain/inventory';
import { sendError, sendInvalid } from './http-errors';
import { fingerprint, IDEMPOTENCY_HEADER, type IdempotencyStore } from './idempotency';
import type { ServiceLogWriter } from './observability';
import type { PlatformState } from './platform-state';
import type { MutationKind, Records } from './records';

export interface PlatformApiDeps {
  platform: PlatformState;
  records: Records;
  idempotency: IdempotencyStore;
  token: string;
  /** The API's request log in the lab's Loki (service gpuaas-api on the platform_control host). */
  logs?: ServiceLogWriter;
}

export const CORRELATION_HEADER = 'x-correlation-id';

const ReasonBody = z.object({ reason: z.string().trim().min(1).max(1000) }).strict();
const RmaBody = z
  .object({
    node_id: NodeIdSchema,
    gpu_uuid: z
      .string()
      .regex(/^GPU-[0-9a-fA-F-]{36}$/, 'expected a GPU UUID like GPU-xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx')
      .optional(),
    summary: z.string().trim().min(1).max(2000),
    evidence: z.record(z.unknown()),
  })
  .strict();
const NodeParams = z.object({ node_id: z.string() });
const TicketQuery = z.object({ node_id: z.string().min(1).optional(), status: z.enum(['open', 'closed']).optional() }).strict();

/** The result of applying a mutation: what to answer and what to record. */
interface Applied {
  status: number;
  body: unknown;
  nodeId: string;
  detail?: Record<string, unknown>;
}

/** apply() answered with an error itself; nothing to store or record. */
const answered = (_reply: FastifyReply): null => null;

export function bearerOk(req: FastifyRequest, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const expected = Buffer.from(`Bearer ${token}`);
  const got = Buffer.from(header);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

export function registerPlatformApi(app: FastifyInstance, deps: PlatformApiDeps): void {
  const { platform, records, idempotency } = deps;

  /** The trace read API (Tempo's /api/traces) shares the prefix but is not the platform's. */
  const isPlatformPath = (url: string) => url.startsWith('/api/') && !url.startsWith('/api/traces/');

  app.addHook('onRequest', async (req, reply) => {
    if (!isPlatformPath(req.url)) return;
    if (!bearerOk(req, deps.token)) {
      reply.header('www-authenticate', 'Bearer realm="gpuaas-lab"');
      return sendError(reply, 401, 'unauthorized', 'missing or invalid bearer token');
    }
  });

  // One line per API request, carrying the caller's correlation id as the real API's access log does.
  app.addHook('onResponse', async (req, reply) => {
    if (!deps.logs || !isPlatformPath(req.url)) return;
    const header = req.headers[CORRELATION_HEADER];
    const status = reply.statusCode;
    deps.logs({
      level: status >= 500 ? 'error' : status >= 400 ? 'warn' : 'info',
      msg: 'request completed',
      component: 'api',
      correlation_id: typeof header === 'string' && header.trim() ? header.trim().slice(0, 200) : undefined,
      method: req.method,
      route: req.routeOptions.url ?? req.url.split('?')[0],
      status,
      node_id: (req.params as { node_id?: string } | undefined)?.node_id,
    });
  });

  const nodeIdOf = (req: FastifyRequest) => NodeParams.parse(req.params).node_id;
  const notFound = (reply: FastifyReply, nodeId: string) => sendError(reply, 404, 'node_not_found', `no node ${nodeId}`);

  /**
   * Runs one POST under its Idempotency-Key: replays a stored response, or
   * validates, applies, stores and records a new one.
   */
  async function idempotent(req: FastifyRequest, reply: FastifyReply, kind: MutationKind, apply: () => Applied | null): Promise<FastifyReply> {
    const raw = req.headers[IDEMPOTENCY_HEADER];
    const key = typeof raw === 'string' ? raw.trim() : '';
    if (!key || key.length > 255) {
      return sendError(reply, 400, 'missing_idempotency_key', 'an Idempotency-Key header (1-255 characters) is required on every POST');
    }
    const fp = fingerprint(req.method, req.url.split('?')[0] ?? req.url, req.body);
    const stored = idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fp) {
        return sendError(reply, 422, 'idempotency_key_reused', `Idempotency-Key ${key} was already used for a different request`);
      }
      records.mutation({ node_id: stored.nodeId, kind, idempotency_key: key, applied: false });
      reply.header('idempotent-replayed', 'true');
      return reply.code(stored.status === 201 ? 200 : stored.status).send(stored.body);
    }
    const result = apply();
    if (!result) return reply; // apply() already answered with an error

    idempotency.set(key, { fingerprint: fp, status: result.status, body: result.body, nodeId: result.nodeId });
    records.mutation({ node_id: result.nodeId, kind, idempotency_key: key, applied: true, detail: result.detail });
    return reply.code(result.status).send(result.body);
  }

  app.get('/api/v1/nodes', async () => ({ nodes: platform.listNodes() }));

  app.get('/api/v1/nodes/:node_id', async (req, reply) => {
    const node = platform.node(nodeIdOf(req));
    return node ?? notFound(reply, nodeIdOf(req));
  });

  app.get('/api/v1/nodes/:node_id/allocations', async (req, reply) => {
    const nodeId = nodeIdOf(req);
    if (!platform.has(nodeId)) return notFound(reply, nodeId);
    return { allocations: platform.allocations(nodeId) };
  });

  for (const action of ['cordon', 'uncordon'] as const) {
    app.post(`/api/v1/nodes/:node_id/${action}`, async (req, reply) =>
      idempotent(req, reply, action, () => {
        const nodeId = nodeIdOf(req);
        const body = ReasonBody.safeParse(req.body ?? {});
        if (!body.success) return answered(sendInvalid(reply, body.error));
        if (!platform.has(nodeId)) return answered(notFound(reply, nodeId));
        const node = action === 'cordon' ? platform.cordon(nodeId, body.data.reason) : platform.uncordon(nodeId);
        return { status: 200, body: { node }, nodeId, detail: { reason: body.data.reason } };
      }),
    );
  }

  app.post('/api/v1/nodes/:node_id/allocations/evict', async (req, reply) =>
    idempotent(req, reply, 'evict', () => {
      const nodeId = nodeIdOf(req);
      const body = ReasonBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      if (!platform.has(nodeId)) return answered(notFound(reply, nodeId));
      const evicted = platform.evict(nodeId);
      return {
        status: 200,
        body: { node_id: nodeId, evicted },
        nodeId,
        detail: { reason: body.data.reason, evicted: evicted.map((a) => a.id) },
      };
    }),
  );

  app.post('/api/v1/rma-tickets', async (req, reply) =>
    idempotent(req, reply, 'rma_ticket', () => {
      const body = RmaBody.safeParse(req.body ?? {});
      if (!body.success) return answered(sendInvalid(reply, body.error));
      if (!platform.has(body.data.node_id)) return answered(notFound(reply, body.data.node_id));
      const ticket = platform.createTicket(body.data);
      return { status: 201, body: ticket, nodeId: ticket.node_id, detail: { ticket_id: ticket.ticket_id, gpu_uuid: ticket.gpu_uuid } };
    }),
  );

  app.get('/api/v1/rma-tickets', async (req, reply) => {
    const q = TicketQuery.safeParse(req.query ?? {});
    if (!q.success) return sendInvalid(reply, q.error);
    return { tickets: platform.listTickets(q.data) };
  });

  app.get('/api/v1/rma-tickets/:ticket_id', async (req, reply) => {
    const { ticket_id } = z.object({ ticket_id: z.string() }).parse(req.params);
    return platform.ticket(ticket_id) ?? sendError(reply, 404, 'ticket_not_found', `no ticket ${ticket_id}`);
  });
}
