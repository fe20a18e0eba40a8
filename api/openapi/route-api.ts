import { z, type AnyZodObject, type ZodTypeAny } from 'zod';
import { findRunbook, runbookNames } from '../runbook-registry';

/**
 * A response an operation documents. A string is its description: an error status
 * (400 and up) then carries the shared error envelope, a 204 no body, any other a JSON
 * object. The object form is for an answer that is not the envelope: a JSON object (GET
 * /healthz's 503), with its zod schema where there is one, or text of another media type
 * (an HTML page, Prometheus' text format).
 */
export type ApiResponse = string | { description: string; json?: ZodTypeAny } | { description: string; mediaType: string };

/**
 * A route's entry in GET /openapi.json, declared in its route config next to its role.
 * `params`, `query` and `body` are the very zod schemas the handler validates with, so the
 * document cannot drift from what the API accepts.
 */
export interface RouteApi {
  summary: string;
  description?: string;
  /** Groups operations in the document and on /docs; by default the path's first segment after /api/v1. */
  tag?: string;
  /** Path parameters; one the route does not declare is documented as a plain string. */
  params?: AnyZodObject;
  query?: AnyZodObject;
  /** The JSON body; a record of named schemas means "one of these", which one the path decides. */
  body?: ZodTypeAny | Record<string, ZodTypeAny>;
  /**
   * What the route answers. 400 (when it validates input), 401 and 403 (when it needs a role)
   * and a default error are added; list the others, with the error codes they carry.
   */
  responses: Record<number, ApiResponse>;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The route's entry in the OpenAPI document. Every route has one, except a public route
     * that is not part of the API (static assets), which says `api: false`.
     */
    api?: RouteApi | false;
  }
}

/** The `:runbook` of a path: a registered runbook's name (any other is answered 404 unknown_runbook). */
export function runbookPathParams() {
  return z.object({ runbook: z.enum(runbookNames() as [string, ...string[]]) });
}

/** Each runbook's trigger input schema, by component name: the body of the routes that start a runbook. */
export function runbookInputSchemas(): Record<string, ZodTypeAny> {
  return Object.fromEntries(runbookNames().map((name) => [`${name}.input`, findRunbook(name)!.schema]));
}

/** The error codes a table of code → status answers with `status`, for a response's description. */
export function codesAnswering(table: Readonly<Record<string, number>>, status: number): string {
  return Object.keys(table)
    .filter((code) => table[code] === status)
    .join(', ');
}

/** A file's route descriptions, typed as RouteApi (not as their literals, which fastify's config type would intersect with it). */
export function routeApis<K extends string>(apis: Record<K, RouteApi>): Record<K, RouteApi> {
  return apis;
}
