import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PrincipalNameSchema } from '../../domain/principals';
import type { AuditTrail } from '../audit/audit-trail';
import { routeApis } from '../openapi/route-api';
import { invalidInput } from '../errors';

const AuditQuerySchema = z
  .object({
    principal: PrincipalNameSchema.optional(),
    action: z.string().max(200).optional(),
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** The routes' entries in /openapi.json. */
const API = routeApis({
  list: {
    summary: 'The audit trail, oldest first from `after` (a seq)',
    description: 'Every authenticated request that tried to change something: who, by which credential, what, and how it was answered.',
    query: AuditQuerySchema,
    responses: { 200: '`entries`, and `next_after` to pass as `after` for the next page (null on the last)' },
  },
  verify: { summary: "Check the audit trail's hash chain", responses: { 200: '`ok`, the `rows` checked, and where the chain is `broken` if it is' } },
});

/** The audit trail, oldest first from `after` (a seq), and a check of its hash chain. */
export function registerAuditRoutes(app: FastifyInstance, trail: AuditTrail): void {
  app.get('/api/v1/audit', { config: { role: 'viewer', api: API.list } }, async (req) => {
    const parsed = AuditQuerySchema.safeParse(req.query);
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const q = parsed.data;
    const entries = await trail.list({ principal: q.principal, action: q.action, afterSeq: q.after, limit: q.limit });
    return { entries, next_after: entries.length === q.limit ? entries[entries.length - 1]!.seq : null };
  });

  app.get('/api/v1/audit/verify', { config: { role: 'viewer', api: API.verify } }, async () => trail.verify());
}
