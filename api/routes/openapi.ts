import type { FastifyInstance } from 'fastify';
import { buildDocument, collectRoutes, type OpenApiDocument } from '../openapi/document';
import { DOCS_CONTENT_SECURITY_POLICY, renderDocsPage } from '../openapi/docs-page';

/**
 * GET /openapi.json and GET /docs, both public: the API described from the routes
 * themselves. Register this before every other route, so it sees them all.
 */
export function registerOpenApiRoutes(app: FastifyInstance): void {
  const routes = collectRoutes(app);
  // Built on first request: by then every route is registered (fastify refuses new ones once it is ready).
  let document: OpenApiDocument | undefined;
  const current = () => (document ??= buildDocument(routes));

  app.get(
    '/openapi.json',
    { config: { public: true, api: { summary: 'This API as an OpenAPI 3.1 document', tag: 'service', responses: { 200: 'the document' } } } },
    async () => current(),
  );

  app.get(
    '/docs',
    {
      config: {
        public: true,
        api: {
          summary: 'This API as a web page',
          tag: 'service',
          responses: { 200: { description: 'an HTML page rendered from the document: no script, nothing loaded from elsewhere', mediaType: 'text/html' } },
        },
      },
    },
    async (_req, reply) =>
      reply.type('text/html; charset=utf-8').header('content-security-policy', DOCS_CONTENT_SECURITY_POLICY).send(renderDocsPage(current())),
  );
}
