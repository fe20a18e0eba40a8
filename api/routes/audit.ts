import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PrincipalNameSchema } from '../../domain/principals';
import type { AuditTrail } from '../audit/audit-trail';
import { invalidInput } from '../errors';

const AuditQuerySchema = z
  .object({
    principal: PrincipalNameSchema.optional(),
    action: z.string().max(200).optional(),
    after: z.coerce.number().int().min(0).default(0),
    limit: z.coerce.number().int().min(1).max(1000).default(100),
  })
  .strict();

/** The audit trail, oldest first from `after` (a seq), and a check of its hash chain. */
export function registerAuditRoutes(app: FastifyInstance, trail: AuditTrail): void {
  app.get('/api/v1/audit', { config: { role: 'viewer' } }, async (req) => {
    const parsed = AuditQuerySchema.safeParse(req.query);
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const q = parsed.data;
    const entries = await trail.list({ principal: q.principal, action: q.action, afterSeq: q.after, limit: q.limit });
    return { entries, next_after: entries.length === q.limit ? entries[entries.length - 1]!.seq : null };
  });

  app.get('/api/v1/audit/verify', { config: { role: 'viewer' } }, async () => trail.verify());
}
