import type { FastifyInstance, FastifyRequest } from 'fastify';
import { hasRole, ROLE_GRANTS, type Principal, type Role } from '../../domain/principals';
import { ApiError } from '../errors';
import { OidcVerifier, type OidcSettings } from './oidc';
import { TokenFile } from './token-file';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role a route needs; every route declares one, or says it is public. */
    role?: Role;
    public?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

export interface Authenticators {
  tokens: TokenFile;
  oidc?: OidcVerifier;
}

const unauthenticated = (why: string) =>
  new ApiError(
    401,
    'unauthenticated',
    `${why}; send Authorization: Bearer <API token or OIDC JWT>`,
    {},
    { 'www-authenticate': 'Bearer realm="gpuaas-runbooks"' },
  );

/**
 * Every route needs a principal with the role it declares, except the few marked
 * public. A route that declares neither is a programming error, refused when the
 * API is built: a new route is never open by accident.
 */
export function installAuth(app: FastifyInstance, auth: Authenticators): void {
  app.decorateRequest('principal', null);
  app.addHook('onRoute', (route) => {
    const config = route.config as { role?: Role; public?: boolean } | undefined;
    if (!config?.public && !config?.role && route.method !== 'HEAD')
      throw new Error(`route ${String(route.method)} ${route.url} declares no role and is not public`);
  });
  app.addHook('onRequest', async (req) => {
    const config = req.routeOptions.config;
    if (config?.public) return;
    req.principal = await authenticate(req, auth);
    const needed = config?.role ?? 'admin';
    if (!hasRole(req.principal, needed)) {
      throw new ApiError(403, 'forbidden', `${req.principal.name} lacks the ${needed} role (${ROLE_GRANTS[needed]})`, {
        principal: req.principal.name,
        roles: req.principal.roles,
        required_role: needed,
      });
    }
  });
}

async function authenticate(req: FastifyRequest, auth: Authenticators): Promise<Principal> {
  const header = req.headers.authorization;
  if (!header) throw unauthenticated('no credentials');
  const m = /^Bearer ([\x21-\x7e]{1,8192})$/.exec(header);
  if (!m) throw unauthenticated('the Authorization header is not a bearer token');
  const token = m[1]!;
  if (token.startsWith('gpuaas_')) {
    const principal = auth.tokens.authenticate(token);
    if (!principal) throw unauthenticated('unknown or revoked API token');
    return principal;
  }
  if (!auth.oidc) throw unauthenticated('not an API token, and OIDC is not configured');
  let verdict: Awaited<ReturnType<OidcVerifier['verify']>>;
  try {
    verdict = await auth.oidc.verify(token);
  } catch (err) {
    req.log.warn({ err }, 'OIDC verification failed');
    throw new ApiError(503, 'identity_provider_unavailable', 'the OIDC key set could not be fetched; try again', {}, { 'retry-after': '5' });
  }
  if ('refused' in verdict) throw unauthenticated(verdict.refused);
  return verdict.principal;
}

/** The authenticators the configuration asks for. */
export function authenticatorsFor(config: { tokensFile: string; oidc?: OidcSettings }): Authenticators {
  return { tokens: new TokenFile(config.tokensFile), oidc: config.oidc ? new OidcVerifier(config.oidc) : undefined };
}
