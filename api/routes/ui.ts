import type { FastifyInstance, FastifyReply } from 'fastify';
import { ApiError } from '../errors';
import type { ApiDeps } from '../server';
import { loadInboxAssets, PAGE_HEADERS, type Asset } from '../ui/assets';

const DEFAULT_TEMPORAL_UI_URL = 'http://localhost:8233';

/**
 * The approvals inbox at /ui/. Its files are public: they hold no data. Everything the page
 * shows comes from the API with the operator's own bearer token, so the page can do exactly
 * what that token can.
 */
export function registerUiRoutes(app: FastifyInstance, deps: ApiDeps): void {
  const assets = loadInboxAssets();
  const settings = { temporal_ui_url: deps.temporalUiUrl ?? DEFAULT_TEMPORAL_UI_URL, namespace: deps.client.options.namespace };
  const send = (reply: FastifyReply, asset: Asset) => reply.headers(PAGE_HEADERS).type(asset.contentType).send(asset.body);

  // Relative links in the page resolve against /ui/, so the bare path moves there.
  app.get('/ui', { config: { public: true, api: false } }, async (_req, reply) => reply.redirect('/ui/'));
  app.get('/ui/', { config: { public: true, api: false } }, async (_req, reply) => send(reply, assets.get('index.html')!));
  app.get<{ Params: { file: string } }>('/ui/:file', { config: { public: true, api: false } }, async (req, reply) => {
    const asset = assets.get(req.params.file);
    if (!asset) throw new ApiError(404, 'not_found', `no file ${JSON.stringify(req.params.file)} in the inbox page`);
    return send(reply, asset);
  });

  /** Who the bearer token is: the page shows it and uses it to tell who may approve what. */
  app.get(
    '/api/v1/whoami',
    { config: { role: 'viewer', api: { summary: 'Who the bearer token is', tag: 'ui', responses: { 200: '`name` and `roles`' } } } },
    async (req) => ({ name: req.principal!.name, roles: req.principal!.roles }),
  );

  /** Where the page links runs: the Temporal Web UI and the namespace the API's client uses. */
  app.get(
    '/api/v1/ui/settings',
    { config: { role: 'viewer', api: { summary: 'Where the inbox page links runs', tag: 'ui', responses: { 200: '`temporal_ui_url` and `namespace`' } } } },
    async () => settings,
  );
}
