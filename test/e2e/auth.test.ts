/**
 * Identity and roles: every route but /healthz needs a principal with the route's
 * role; API tokens from the tokens file and OIDC JWTs verified against a real JWKS
 * endpoint; the actor is the principal; only runbook runs are reachable.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type KeyLike } from 'jose';
import { authenticatorsFor } from '../../api/auth/authenticate';
import { buildApi } from '../../api/server';
import { connectStack, testLogger, uniqueTaskQueue, type Stack } from '../support/harness';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { clearAlertLedger, expectEnvelope, startApi, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-4';
const ISSUER = 'https://login.example.test/';
const AUDIENCE = 'gpuaas-runbooks';
const runUrl = `/api/v1/runs/${encodeURIComponent(`gpu-fault/${NODE}`)}`;

/** Every route that changes something, with a body it would accept. */
const MUTATIONS: [string, string, unknown][] = [
  ['POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, xid: 48 }],
  ['POST', '/api/v1/runbooks/gpu-health-check/fleet-runs', { node_ids: [NODE], input: {} }],
  ['POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'r' }],
  ['POST', `${runUrl}/cancel`, { reason: 'r' }],
  ['POST', '/api/v1/budgets/release', { scope: `node/${NODE}`, node_id: NODE, reason: 'r' }],
  ['POST', '/api/v1/drills', { id: 'auth-probe', runbook: 'gpu-fault-remediation', scenario: 'transient-xid', node_id: NODE, every: '24h' }],
  ['DELETE', '/api/v1/drills/auth-probe', undefined],
  ['POST', '/api/v1/drills/auth-probe/trigger', undefined],
  ['POST', '/api/v1/tokens', { principal: 'eve', roles: ['admin'] }],
  ['DELETE', '/api/v1/tokens?principal=alice', undefined],
];

let stack: Stack;
let api: RunningApi;
let oidcApi: RunningApi;
let stopApi: (() => Promise<void>) | undefined;
let jwks: http.Server;
let signingKey: KeyLike;

beforeAll(async () => {
  stack = await connectStack();
  let taskQueue: string;
  ({ api, taskQueue, stop: stopApi } = await startApiWithWorker(stack, 'auth'));

  // A real JWKS endpoint, as an identity provider serves one.
  const { publicKey, privateKey } = await generateKeyPair('RS256');
  signingKey = privateKey;
  const jwk = { ...(await exportJWK(publicKey)), kid: 'test-key-1', alg: 'RS256', use: 'sig' };
  jwks = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((resolve) => jwks.listen(0, '127.0.0.1', resolve));
  const jwksUrl = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/.well-known/jwks.json`;
  oidcApi = await startApi(stack, taskQueue, {
    auth: {
      ...authenticatorsFor({ tokensFile: api.tokens.file, oidc: { issuer: ISSUER, audience: AUDIENCE, jwksUrl, principalClaim: 'sub', rolesClaim: 'roles' } }),
    },
  });
});
afterAll(async () => {
  await oidcApi?.close();
  await stopApi?.();
  await new Promise((resolve) => jwks?.close(resolve));
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

/** Workflows for the node, schedules, and tokens: what a refused request must not change. */
async function footprint() {
  return {
    workflows: await stack.client.workflow.count(`NodeId = '${NODE}'`),
    lab: (await stack.lab.records(NODE)).commands.length,
    tokens: api.tokens.list().length,
    drills: (await api.call('GET', '/api/v1/drills')).body.drills.length,
  };
}

function jwt(claims: Record<string, unknown>, opts: { audience?: string; expiresIn?: string | number; issuer?: string } = {}): Promise<string> {
  return new SignJWT(claims)
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' })
    .setIssuer(opts.issuer ?? ISSUER)
    .setAudience(opts.audience ?? AUDIENCE)
    .setSubject('jules')
    .setIssuedAt()
    .setExpirationTime(opts.expiresIn ?? '5m')
    .sign(signingKey);
}

test('every mutating route without a token → 401 and nothing changed; /healthz stays open', async () => {
  const before = await footprint();
  for (const [method, path, body] of MUTATIONS) {
    for (const authorization of [undefined, 'Bearer gpuaas_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', 'Basic YWxpY2U6c2VjcmV0']) {
      const r = await api.call(method, path, body, { authorization: authorization ?? '' });
      expect({ method, path, authorization, status: r.status }).toEqual({ method, path, authorization, status: 401 });
      expectEnvelope(r, 401, 'unauthenticated');
      expect(r.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
  }
  expect(await footprint()).toEqual(before);
  expect((await api.call('GET', '/healthz', undefined, { authorization: '' })).status).toBe(200);
});

test('a viewer reads but is refused every change with 403; an operator cannot approve or manage tokens', async () => {
  const before = await footprint();
  expect((await api.as('vic', 'GET', '/api/v1/runs')).status).toBe(200);
  expect((await api.as('vic', 'GET', '/api/v1/audit?limit=1')).status).toBe(200);
  expect((await api.as('vic', 'GET', '/api/v1/drills')).status).toBe(200);
  for (const [method, path, body] of MUTATIONS) {
    const r = await api.as('vic', method, path, body);
    expect({ method, path, status: r.status }).toEqual({ method, path, status: 403 });
    expectEnvelope(r, 403, 'forbidden');
    expect(r.body.error.details).toMatchObject({ principal: 'vic', roles: ['viewer'] });
  }
  for (const [method, path, body, role] of [
    ['POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'r' }, 'approver'],
    ['POST', '/api/v1/tokens', { principal: 'eve', roles: ['admin'] }, 'admin'],
    ['POST', '/api/v1/budgets/release', { scope: `node/${NODE}`, node_id: NODE, reason: 'r' }, 'admin'],
  ] as const) {
    const r = await api.as('olga', method, path, body);
    expect({ path, status: r.status, required: r.body.error?.details?.required_role }).toEqual({ path, status: 403, required: role });
  }
  expect(await footprint()).toEqual(before);
});

test('tokens: made by an admin and shown once, stored hashed; revoking a principal locks it out at once', async () => {
  const made = await api.call('POST', '/api/v1/tokens', { principal: 'carol', roles: ['viewer'] });
  expect(made.status).toBe(201);
  expect(made.body.token).toMatch(/^gpuaas_[a-f0-9]{12}_[A-Za-z0-9_-]{43}$/);
  expect(JSON.stringify(api.tokens.list())).not.toContain(made.body.token);
  const carol = { authorization: `Bearer ${made.body.token}` };
  expect((await api.call('GET', '/api/v1/runs', undefined, carol)).status).toBe(200);
  const listed = await api.call('GET', '/api/v1/tokens');
  expect(listed.body.tokens.find((t: { id: string }) => t.id === made.body.id)).toEqual(expect.not.objectContaining({ sha256: expect.anything() }));

  expect((await api.call('DELETE', '/api/v1/tokens?principal=carol')).body).toEqual({ revoked: 1 });
  expectEnvelope(await api.call('GET', '/api/v1/runs', undefined, carol), 401, 'unauthenticated');
  // A token whose secret is wrong but whose id exists is no better.
  const forged = made.body.token.replace(/.$/, (c: string) => (c === 'A' ? 'B' : 'A'));
  expectEnvelope(await api.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${api.bearer.vic.slice(0, -1)}x` }), 401, 'unauthenticated');
  expectEnvelope(await api.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${forged}` }), 401, 'unauthenticated');
});

test('OIDC: a JWT from the issuer with the audience works with its roles; wrong audience, expired, foreign key or no role is refused', async () => {
  const viewer = await jwt({ roles: ['viewer'] });
  const ok = await oidcApi.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${viewer}` });
  expect(ok.status).toBe(200);
  expectEnvelope(await oidcApi.call('POST', `${runUrl}/cancel`, { reason: 'r' }, { authorization: `Bearer ${viewer}` }), 403, 'forbidden');

  const { privateKey: stranger } = await generateKeyPair('RS256');
  const refused: [string, string][] = [
    ['wrong audience', await jwt({ roles: ['admin'] }, { audience: 'another-service' })],
    ['expired', await jwt({ roles: ['admin'] }, { expiresIn: Math.floor(Date.now() / 1000) - 60 })],
    ['other issuer', await jwt({ roles: ['admin'] }, { issuer: 'https://evil.example.test/' })],
    [
      'signed by another key',
      await new SignJWT({ roles: ['admin'] })
        .setProtectedHeader({ alg: 'RS256', kid: 'test-key-1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('jules')
        .setExpirationTime('5m')
        .sign(stranger),
    ],
  ];
  for (const [what, token] of refused) {
    const r = await oidcApi.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${token}` });
    expect({ what, status: r.status }).toEqual({ what, status: 401 });
  }
  const noRole = await oidcApi.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${await jwt({ roles: ['superuser'] })}` });
  expectEnvelope(noRole, 403, 'forbidden');
  // API tokens still work beside OIDC.
  expect((await oidcApi.call('GET', '/api/v1/runs', undefined, { authorization: `Bearer ${api.bearer.vic}` })).status).toBe(200);
});

test('the requester is the principal: recorded on the run, in its status and in runbook_runs', async () => {
  const started = await api.as('olga', 'POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { node_id: NODE, poll_interval: '100ms' });
  expect(started.status).toBe(201);
  const done = await api.waitForRun(started.body.status_url, (r) => r.execution_status === 'COMPLETED', 'the run');
  expect(done.status.requested_by).toBe('olga');
  const row = await stack.pool.query('SELECT requested_by FROM runbook_runs WHERE workflow_id = $1 AND run_id = $2', [
    started.body.workflow_id,
    started.body.run_id,
  ]);
  expect(row.rows[0]).toEqual({ requested_by: 'olga' });
});

test('only runbook runs are reachable: another workflow in the namespace is 404 to every run route', async () => {
  const other = await stack.client.workflow.start('disruptionLedger', {
    taskQueue: uniqueTaskQueue('no-worker'),
    workflowId: `fleet/not-a-runbook/${Date.now()}`,
    args: [{ scope: 'rack/nowhere', size: 1, cap: 1 }],
  });
  try {
    const url = `/api/v1/runs/${encodeURIComponent(other.workflowId)}`;
    expectEnvelope(await api.call('GET', url), 404, 'run_not_found');
    expectEnvelope(await api.as('alice', 'POST', `${url}/approvals`, { decision: 'approve', reason: 'r' }), 404, 'run_not_found');
    expectEnvelope(await api.as('olga', 'POST', `${url}/cancel`, { reason: 'r' }), 404, 'run_not_found');
    expectEnvelope(await api.call('GET', `/api/v1/fleet-runs/${encodeURIComponent(other.workflowId)}`), 404, 'run_not_found');
    expect((await other.describe()).status.name).toBe('RUNNING');
  } finally {
    await other.terminate('test clean-up');
  }
});

test('a route that declares no role cannot be added', async () => {
  const app = buildApi({
    client: stack.client,
    pool: stack.pool,
    taskQueue: 'unused',
    logger: testLogger,
    inventory: stack.inventory,
    alertCooldownMs: 1,
    auth: { tokens: api.tokens },
  });
  try {
    expect(() => app.get('/api/v1/unguarded', async () => 'open')).toThrow(/declares no role/);
    expect(() => app.get('/api/v1/guarded', { config: { role: 'viewer' } }, async () => 'fine')).not.toThrow();
  } finally {
    await app.close();
  }
});
