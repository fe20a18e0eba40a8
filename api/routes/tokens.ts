import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { PrincipalNameSchema, RoleSchema } from '../../domain/principals';
import { safeText } from '../../domain/text';
import { ApiError, invalidInput } from '../errors';
import { routeApis } from '../openapi/route-api';
import type { ApiDeps } from '../server';

const CreateTokenSchema = z
  .object({
    principal: PrincipalNameSchema,
    roles: z.array(RoleSchema).min(1).max(4),
    description: safeText(200).optional(),
  })
  .strict();
const TokenIdSchema = z.object({ id: z.string().regex(/^[a-f0-9]{12}$/, 'a token id is 12 hex digits') }).strict();
const RevokeQuerySchema = z.object({ principal: PrincipalNameSchema }).strict();

/** The routes' entries in /openapi.json. */
const API = routeApis({
  create: {
    summary: 'Make an API token',
    body: CreateTokenSchema,
    responses: { 201: 'the token record and `token`, the secret, shown only now (it is stored hashed)' },
  },
  list: { summary: 'Every API token, without its secret', responses: { 200: '`tokens`' } },
  revoke: { summary: 'Revoke one API token', params: TokenIdSchema, responses: { 200: '`revoked`: 1', 404: 'token_not_found' } },
  revokePrincipal: { summary: "Revoke all of a principal's API tokens", query: RevokeQuerySchema, responses: { 200: '`revoked`: how many' } },
});

/** API tokens (admin only): made here and shown once, listed without their secrets, revoked by id or by principal. */
export function registerTokenRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const tokens = deps.auth.tokens;
  const view = ({ sha256: _secretHash, ...rest }: ReturnType<typeof tokens.list>[number]) => rest;

  app.post('/api/v1/tokens', { config: { role: 'admin', api: API.create } }, async (req, reply) => {
    const parsed = CreateTokenSchema.safeParse(req.body ?? {});
    if (!parsed.success) throw invalidInput(parsed.error, 'token');
    const { token, record } = tokens.create(parsed.data.principal, parsed.data.roles, parsed.data.description ?? `made by ${req.principal!.name}`);
    req.log.warn({ token_id: record.id, principal: record.principal, roles: record.roles, by: req.principal!.name }, 'API token created');
    return reply.status(201).send({ ...view(record), token, note: 'the token is shown only now; it is stored hashed' });
  });

  app.get('/api/v1/tokens', { config: { role: 'admin', api: API.list } }, async () => ({ tokens: tokens.list().map(view) }));

  app.delete<{ Params: { id: string } }>('/api/v1/tokens/:id', { config: { role: 'admin', api: API.revoke } }, async (req) => {
    const parsed = TokenIdSchema.safeParse(req.params);
    if (!parsed.success) throw invalidInput(parsed.error, 'token id');
    if (tokens.delete({ id: parsed.data.id }) === 0) throw new ApiError(404, 'token_not_found', `no token ${parsed.data.id}`);
    req.log.warn({ token_id: parsed.data.id, by: req.principal!.name }, 'API token revoked');
    return { revoked: 1 };
  });

  app.delete('/api/v1/tokens', { config: { role: 'admin', api: API.revokePrincipal } }, async (req) => {
    const parsed = RevokeQuerySchema.safeParse(req.query);
    if (!parsed.success) throw invalidInput(parsed.error, 'query');
    const revoked = tokens.delete({ principal: parsed.data.principal });
    req.log.warn({ principal: parsed.data.principal, revoked, by: req.principal!.name }, 'API tokens of a principal revoked');
    return { revoked };
  });
}
