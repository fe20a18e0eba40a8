import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type ResponseConfig, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { FastifyInstance } from 'fastify';
import { z, type AnyZodObject } from 'zod';
import { version } from '../../package.json';
import { ROLE_GRANTS, type Role } from '../../domain/principals';
import { envelope } from '../errors';
import type { ApiResponse, RouteApi } from './route-api';

// The generator names parameters through `.openapi()`, which this adds to zod's prototype; validation is unchanged.
extendZodWithOpenApi(z);

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** A route as fastify registered it, with what the document needs from its config. */
export interface RegisteredRoute {
  method: string;
  /** Fastify's form: `/api/v1/runs/:workflowId`. */
  url: string;
  role: Role | undefined;
  public: boolean;
  api: RouteApi | undefined;
}

/** The error envelope of errors.ts: every error answer, whatever the route. Checked against envelope() when the document is built. */
const ErrorEnvelopeSchema = z
  .object({
    error: z
      .object({
        code: z.string().describe('stable, machine-readable: invalid_input, unauthenticated, forbidden, run_not_found, ...'),
        message: z.string().describe('for people; may change'),
        details: z.unknown().describe('what the code needs said: the invalid fields, the required role, the known names, ...'),
      })
      .strict(),
    correlation_id: z.string().describe('the X-Correlation-Id of the request, as the server log has it'),
  })
  .strict();

const SECURITY_SCHEME = 'bearer';

/**
 * Collects every route as it is registered, for the document. Install it before any
 * route: fastify tells onRoute hooks only about routes registered after them. HEAD and
 * OPTIONS routes are fastify's own answers, not operations.
 */
export function collectRoutes(app: FastifyInstance): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  app.addHook('onRoute', (route) => {
    const config = route.config ?? {};
    if (config.api === false) {
      // Only a public route may stay out: an authenticated one is API, and an API the document hides is a hole in it.
      if (!config.public) throw new Error(`route ${String(route.method)} ${route.url} says api: false but is not public`);
      return;
    }
    for (const method of [route.method].flat()) {
      if (method === 'HEAD' || method === 'OPTIONS') continue;
      routes.push({ method, url: route.url, role: config.role, public: config.public === true, api: config.api });
    }
  });
  app.addHook('onReady', async () => {
    const undocumented = routes.filter((r) => !r.api).map((r) => `${r.method} ${r.url}`);
    if (undocumented.length > 0) app.log.warn({ routes: undocumented }, 'routes without an api description are missing from /openapi.json');
  });
  return routes;
}

/** `/api/v1/runs/:workflowId` → `/api/v1/runs/{workflowId}`; a `:name(regex)` loses its regex. */
export function openApiPath(url: string): string {
  return url.replace(/:([A-Za-z0-9_]+)(\([^)]*\))?/g, '{$1}').replace(/\*$/, '{wildcard}');
}

function pathParameterNames(url: string): string[] {
  return [...openApiPath(url).matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!);
}

/** The OpenAPI 3.1 document of every route that has an api description, from the zod schemas the routes validate with. */
export function buildDocument(routes: readonly RegisteredRoute[]): OpenApiDocument {
  // The envelope errors.ts builds must be the one documented (strict: a field added there fails here).
  ErrorEnvelopeSchema.parse(envelope('code', 'message', {}, 'correlation-id'));
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', SECURITY_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API token (`gpuaas_...`, from `npm run tokens` or POST /api/v1/tokens) or an OIDC JWT from the configured issuer.',
  });
  const envelopeSchema = registry.register('ErrorEnvelope', ErrorEnvelopeSchema);
  const registered = new Set<string>();
  for (const route of routes) {
    if (!route.api) continue;
    registry.registerPath(
      operation(route, route.api, envelopeSchema, (name, schema) => {
        if (!registered.has(name)) registry.register(name, schema);
        registered.add(name);
      }),
    );
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'gpuaas-runbooks API',
      version,
      description:
        'Start, follow, approve and cancel runbook runs on the GPU fleet; drills, disruption budgets, API tokens and the audit trail. ' +
        'Every answer carries X-Correlation-Id (send one to choose it); every error is the ErrorEnvelope.',
    },
  });
}

function operation(
  route: RegisteredRoute,
  api: RouteApi,
  envelopeSchema: z.ZodTypeAny,
  registerSchema: (name: string, schema: z.ZodTypeAny) => void,
): RouteConfig {
  const method = route.method.toLowerCase() as RouteConfig['method'];
  const errorContent = { 'application/json': { schema: envelopeSchema } };
  const validates = api.params !== undefined || api.query !== undefined || api.body !== undefined;
  const responses: Record<string, ResponseConfig> = {};
  for (const [status, response] of Object.entries(api.responses)) responses[status] = responseOf(Number(status), response, errorContent);
  if (validates && !responses['400'])
    responses['400'] = { description: 'invalid_input: the request does not match the schema; details.fields names each problem', content: errorContent };
  let description = api.description;
  if (!route.public) {
    const role = route.role ?? 'admin';
    const who = role === 'viewer' ? 'any role' : role === 'admin' ? 'the admin role' : `the ${role} role (or admin)`;
    const needs = `Requires ${who}: ${ROLE_GRANTS[role]}.`;
    description = description ? `${description}\n\n${needs}` : needs;
    responses['401'] ??= {
      description: 'unauthenticated: no bearer token, or one that is unknown, revoked, expired or not for this API',
      content: errorContent,
    };
    responses['403'] ??= { description: `forbidden: the principal lacks the ${role} role`, content: errorContent };
  }
  responses['default'] = {
    description: 'any other error; 503 (with Retry-After) when Temporal, a worker or PostgreSQL does not answer in time',
    content: errorContent,
  };
  return {
    method,
    path: openApiPath(route.url),
    summary: api.summary,
    ...(description ? { description } : {}),
    tags: [api.tag ?? defaultTag(route.url)],
    security: route.public ? [] : [{ [SECURITY_SCHEME]: [] }],
    ...(route.public ? {} : { 'x-required-role': route.role ?? 'admin' }),
    request: {
      params: pathParameters(route.url, api.params),
      ...(api.query ? { query: api.query } : {}),
      ...(api.body ? { body: { required: true, content: { 'application/json': { schema: bodySchema(api.body, registerSchema) } } } } : {}),
    },
    responses,
  };
}

function responseOf(status: number, response: ApiResponse, errorContent: ResponseConfig['content']): ResponseConfig {
  if (typeof response !== 'string') {
    if ('mediaType' in response) return { description: response.description, content: { [response.mediaType]: { schema: { type: 'string' } } } };
    return { description: response.description, content: { 'application/json': { schema: response.json ?? { type: 'object' } } } };
  }
  if (status >= 400) return { description: response, content: errorContent };
  if (status === 204) return { description: response };
  return { description: response, content: { 'application/json': { schema: { type: 'object' } } } };
}

/** The declared path parameters, and every other one in the path as a plain string; a declared one the path lacks is a mistake. */
function pathParameters(url: string, declared: AnyZodObject | undefined): AnyZodObject | undefined {
  const names = pathParameterNames(url);
  const known = Object.keys(declared?.shape ?? {});
  const stray = known.filter((k) => !names.includes(k));
  if (stray.length > 0) throw new Error(`route ${url} documents path parameters it does not have: ${stray.join(', ')}`);
  const rest = Object.fromEntries(names.filter((n) => !known.includes(n)).map((n) => [n, z.string()]));
  if (names.length === 0) return undefined;
  return declared ? declared.extend(rest) : z.object(rest);
}

function bodySchema(body: NonNullable<RouteApi['body']>, registerSchema: (name: string, schema: z.ZodTypeAny) => void) {
  if (body instanceof z.ZodType) return body;
  for (const [name, schema] of Object.entries(body)) registerSchema(name, schema);
  return { anyOf: Object.keys(body).map((name) => ({ $ref: `#/components/schemas/${name}` })) };
}

function defaultTag(url: string): string {
  return /^\/api\/v1\/([^/]+)/.exec(url)?.[1] ?? 'service';
}
