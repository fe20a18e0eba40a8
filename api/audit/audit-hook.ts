import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditEntry, AuditTrail } from './audit-trail';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/** Fields of a response worth keeping with the entry; never a token's secret. */
const KEPT_ANSWER_FIELDS = ['workflow_id', 'run_id', 'approval_id', 'decision', 'alert', 'id', 'principal', 'roles', 'revoked', 'released_from'];
const MAX_BODY_CHARS = 4_000;

/**
 * Every authenticated request that tries to change something goes into the audit
 * trail before its answer is sent: who, by which credential, what route on what
 * target, the body it sent, and how it was answered (a refusal too).
 * Unauthenticated requests are only logged: they changed nothing and name nobody.
 */
export function installAudit(app: FastifyInstance, trail: AuditTrail): void {
  app.addHook('onSend', async (req, reply, payload) => {
    if (!MUTATING.has(req.method) || !req.principal || !req.routeOptions.url) return payload;
    const entry: AuditEntry = {
      principal: req.principal.name,
      via: req.principal.via,
      token_id: req.principal.token_id ?? null,
      action: `${req.method} ${req.routeOptions.url}`,
      target: targetOf(req),
      status: reply.statusCode,
      correlation_id: req.id,
      detail: { body: bodyOf(req), answer: answerOf(payload) },
    };
    try {
      await trail.append(entry);
    } catch (err) {
      // The change (if any) happened; the entry must not vanish: the log keeps it whole.
      req.log.error({ err, audit: entry }, 'audit trail append failed');
    }
    return payload;
  });
}

function targetOf(req: FastifyRequest): string | null {
  const params = (req.params ?? {}) as Record<string, string>;
  const values = Object.entries(params).map(([k, v]) => `${k}=${v}`);
  return values.length ? values.join(' ') : null;
}

function bodyOf(req: FastifyRequest): unknown {
  if (req.body === undefined || req.body === null) return null;
  const text = JSON.stringify(req.body);
  return text.length <= MAX_BODY_CHARS ? req.body : { truncated: text.slice(0, MAX_BODY_CHARS) };
}

function answerOf(payload: unknown): Record<string, unknown> | null {
  if (typeof payload !== 'string') return null;
  try {
    const body = JSON.parse(payload) as Record<string, unknown>;
    if (body.error && typeof body.error === 'object') return { error: (body.error as { code?: unknown }).code ?? null };
    return Object.fromEntries(KEPT_ANSWER_FIELDS.filter((k) => body[k] !== undefined).map((k) => [k, body[k]]));
  } catch {
    return null;
  }
}
