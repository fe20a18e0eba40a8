/**
 * The platform API's Idempotency-Key rule for the app-runtime routes, the same as
 * platform-api.ts applies to its own: every POST needs a key; a repeat with the
 * same request answers the stored response (201 becomes 200) without applying
 * anything; a repeat with a different request is refused. Each applied or
 * replayed request is one mutation record; its detail never holds a secret.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { sendError } from '../http-errors';
import { fingerprint, IDEMPOTENCY_HEADER, type IdempotencyStore } from '../idempotency';
import type { MutationKind, Records } from '../records';

export interface Applied {
  status: number;
  body: unknown;
  nodeId: string;
  detail?: Record<string, unknown>;
}

export function idempotentPost(deps: { records: Records; idempotency: IdempotencyStore }) {
  return async function run(req: FastifyRequest, reply: FastifyReply, kind: MutationKind, apply: () => Applied | null): Promise<FastifyReply> {
    const raw = req.headers[IDEMPOTENCY_HEADER];
    const key = typeof raw === 'string' ? raw.trim() : '';
    if (!key || key.length > 255) {
      return sendError(reply, 400, 'missing_idempotency_key', 'an Idempotency-Key header (1-255 characters) is required on every POST');
    }
    const fp = fingerprint(req.method, req.url.split('?')[0] ?? req.url, req.body);
    const stored = deps.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fp) return sendError(reply, 422, 'idempotency_key_reused', `Idempotency-Key ${key} was already used for a different request`);
      deps.records.mutation({ node_id: stored.nodeId, kind, idempotency_key: key, applied: false });
      reply.header('idempotent-replayed', 'true');
      return reply.code(stored.status === 201 ? 200 : stored.status).send(stored.body);
    }
    const result = apply();
    if (!result) return reply;
    deps.idempotency.set(key, { fingerprint: fp, status: result.status, body: result.body, nodeId: result.nodeId });
    deps.records.mutation({ node_id: result.nodeId, kind, idempotency_key: key, applied: true, detail: result.detail });
    return reply.code(result.status).send(result.body);
  };
}
