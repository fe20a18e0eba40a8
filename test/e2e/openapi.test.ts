/**
 * GET /openapi.json and GET /docs: public, a valid OpenAPI 3.1 document of every route
 * fastify registered (an undocumented route fails here), with request schemas that are
 * the routes' own zod schemas, and `security` that matches what the API enforces.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { z } from 'zod';
import { buildDocument, collectRoutes } from '../../api/openapi/document';
import type { RouteApi } from '../../api/openapi/route-api';
import { NodeIdSchema } from '../../domain/inventory';
import { ROLES } from '../../domain/principals';
import { connectStack, uniqueTaskQueue, type Stack } from '../support/harness';
import { expectEnvelope, startApi, type RunningApi } from './api-harness';

let stack: Stack;
let api: RunningApi;
let doc: any;

beforeAll(async () => {
  stack = await connectStack();
  api = await startApi(stack, uniqueTaskQueue('openapi'));
  const res = await fetch(`${api.base}/openapi.json`);
  expect(res.status).toBe(200);
  doc = await res.json();
});
afterAll(async () => {
  await api?.close();
  await stack?.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch'];

/** Every (METHOD path) of the document, path in its OpenAPI form. */
function documented(d: any): Map<string, any> {
  const ops = new Map<string, any>();
  for (const [p, item] of Object.entries<any>(d.paths)) for (const m of METHODS) if (item[m]) ops.set(`${m.toUpperCase()} ${p}`, item[m]);
  return ops;
}

/**
 * Every (METHOD path) fastify routes, read from its own route tree (printRoutes), not from
 * the API's hook: `├── /runs (GET, HEAD)` lines, each nested under the one above it.
 */
function registered(app: FastifyInstance): Set<string> {
  const found = new Set<string>();
  const segments: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (!m) continue;
    segments.length = m[1]!.length / 4;
    segments.push(m[2]!);
    for (const method of m[3]?.split(', ') ?? []) {
      if (method !== 'HEAD' && method !== 'OPTIONS') found.add(`${method} ${segments.join('').replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    }
  }
  return found;
}

/** @seriousme/openapi-schema-validator is an ES module, which jest's CommonJS cannot load: it runs in its own node. */
function validateOpenApi(document: unknown): { valid: boolean; version?: string; errors?: unknown } {
  const script = `
    import { Validator } from '@seriousme/openapi-schema-validator';
    let input = '';
    for await (const chunk of process.stdin) input += chunk;
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(input));
    process.stdout.write(JSON.stringify({ ...result, version: validator.version }));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: path.resolve(__dirname, '../..'),
    input: JSON.stringify(document),
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (out.status !== 0) throw new Error(`validator failed to run: ${out.stderr}`);
  return JSON.parse(out.stdout);
}

/** A request that cannot pass authentication: path parameters filled in, no body, no token. */
async function unauthenticated(key: string): Promise<{ status: number; body: any; headers: Headers }> {
  const [method, p] = key.split(' ') as [string, string];
  const res = await fetch(`${api.base}${p.replace(/\{[^}]+\}/g, 'x')}`, { method });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: res.headers.get('content-type')?.includes('json') && text ? JSON.parse(text) : text };
}

test('the document is a valid OpenAPI 3.1 document (and the validator does refuse a broken one)', () => {
  expect(doc.openapi).toBe('3.1.0');
  const result = validateOpenApi(doc);
  expect(result).toEqual({ valid: true, version: '3.1' });
  const { info: _info, ...broken } = doc;
  expect(validateOpenApi({ ...broken, paths: { '/x': { get: { responses: { 200: {} } } } } }).valid).toBe(false);
});

test('every route fastify registered is documented, and nothing else; the only routes left out are the public /ui page', async () => {
  const inDocument = new Set(documented(doc).keys());
  const inFastify = registered(api.app);
  expect(inFastify.size).toBeGreaterThan(20);
  expect([...inDocument].filter((k) => !inFastify.has(k))).toEqual([]);
  const leftOut = [...inFastify].filter((k) => !inDocument.has(k));
  // A route without an api description lands here; only the inbox page's files may.
  expect(leftOut.filter((k) => !/^GET \/ui(\/|$)/.test(k))).toEqual([]);
  for (const key of leftOut) expect({ key, status: (await unauthenticated(key)).status }).not.toEqual({ key, status: 401 });
});

test('/openapi.json, /docs and /healthz are the only public operations; every other one needs a bearer token and names its role', async () => {
  const ops = documented(doc);
  const publicOps = [...ops].filter(([, op]) => op.security.length === 0).map(([key]) => key);
  expect(publicOps.sort()).toEqual(['GET /docs', 'GET /healthz', 'GET /openapi.json']);
  expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
  for (const [key, op] of ops) {
    if (publicOps.includes(key)) continue;
    expect({ key, security: op.security, role: ROLES.includes(op['x-required-role']) }).toEqual({ key, security: [{ bearer: [] }], role: true });
    expect(op.description).toContain('Requires');
    for (const status of ['401', '403', 'default'])
      expect(op.responses[status].content['application/json'].schema).toEqual({ $ref: '#/components/schemas/ErrorEnvelope' });
  }
  // What the document says is what the API does: without a token, exactly the non-public operations answer 401.
  for (const key of ops.keys()) {
    const answer = await unauthenticated(key);
    if (publicOps.includes(key)) expect({ key, status: answer.status }).not.toEqual({ key, status: 401 });
    else expectEnvelope(answer as any, 401, 'unauthenticated');
  }
});

test('request schemas are the zod schemas the routes validate with', () => {
  const ops = documented(doc);
  const approve = ops.get('POST /api/v1/runs/{workflowId}/approvals');
  const approvalBody = approve.requestBody.content['application/json'].schema;
  expect(approvalBody.properties.decision).toEqual({ type: 'string', enum: ['approve', 'reject'] });
  expect(approvalBody.properties).not.toHaveProperty('actor');
  expect(approvalBody.required).toEqual(expect.arrayContaining(['decision', 'reason']));
  expect(approvalBody.additionalProperties).toBe(false);
  expect(approve['x-required-role']).toBe('approver');
  expect(approve.parameters).toEqual([
    expect.objectContaining({ name: 'workflowId', in: 'path', required: true, schema: expect.objectContaining({ maxLength: 1000 }) }),
  ]);

  expect(ops.get('POST /api/v1/runs/{workflowId}/cancel').requestBody.content['application/json'].schema.properties).not.toHaveProperty('actor');

  const list = ops.get('GET /api/v1/runs').parameters;
  expect(list.find((p: any) => p.name === 'limit')).toMatchObject({
    in: 'query',
    required: false,
    schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  });
  expect(list.find((p: any) => p.name === 'status').schema.enum).toContain('timed_out');

  // A trigger's body is the input schema of the runbook in the path, one component per runbook.
  const trigger = ops.get('POST /api/v1/runbooks/{runbook}/runs');
  expect(trigger.parameters[0].schema.enum).toEqual(expect.arrayContaining(['gpu-fault-remediation', 'gpu-health-check']));
  expect(trigger.requestBody.content['application/json'].schema.anyOf).toContainEqual({ $ref: '#/components/schemas/gpu-fault-remediation.input' });
  const gpuFault = doc.components.schemas['gpu-fault-remediation.input'];
  const nodeIdPattern = (NodeIdSchema._def.checks.find((c) => c.kind === 'regex') as { regex: RegExp }).regex.source;
  expect(gpuFault.properties.node_id.pattern).toBe(nodeIdPattern);
  expect(gpuFault.properties.run_mode).toMatchObject({ enum: ['live', 'plan', 'drill'], default: 'live' });
  expect(gpuFault.required).toEqual(['node_id']);

  const token = ops.get('POST /api/v1/tokens').requestBody.content['application/json'].schema;
  expect(token.properties.roles.items.enum).toEqual([...ROLES]);
  expect(ops.get('POST /api/v1/drills/{id}/{action}').parameters.map((p: any) => [p.name, p.schema.enum ?? p.schema.pattern])).toEqual([
    ['id', '^[a-z0-9][a-z0-9-]{0,62}$'],
    ['action', ['pause', 'unpause', 'trigger']],
  ]);
  // The shared error envelope, as errors.ts builds it.
  expect(doc.components.schemas.ErrorEnvelope.required).toEqual(['error', 'correlation_id']);
});

test('GET /docs is a self-contained page of every operation, without a token', async () => {
  const res = await fetch(`${api.base}/docs`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/html/);
  expect(res.headers.get('content-security-policy')).toBe("default-src 'none'; style-src 'unsafe-inline'");
  const html = await res.text();
  for (const key of documented(doc).keys()) expect(html).toContain(`<code>${key.split(' ')[1]}</code>`);
  expect(html).not.toMatch(/<script|<link|src=|https?:\/\//i);
});

test('a route without an api description is left out of the document, so the comparison above fails; api: false is only for public routes', () => {
  const app = Fastify();
  const routes = collectRoutes(app);
  const described: RouteApi = { summary: 'a route', query: z.object({ n: z.coerce.number() }), responses: { 200: 'ok' } };
  app.get('/documented', { config: { role: 'viewer', api: described } }, async () => ({}));
  app.get('/forgotten', { config: { role: 'viewer' } }, async () => ({}));
  app.get('/asset', { config: { public: true, api: false } }, async () => '');
  expect(Object.keys(buildDocument(routes).paths ?? {})).toEqual(['/documented']);
  expect(() => app.get('/hidden', { config: { role: 'viewer', api: false } }, async () => ({}))).toThrow(/api: false but is not public/);
});
