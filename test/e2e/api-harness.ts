import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { TokenFile } from '../../api/auth/token-file';
import type { FastifyInstance } from 'fastify';
import { buildApi, type ApiDeps } from '../../api/server';
import { gpuFaultWorkflowId } from '../../runbooks/gpu-fault-remediation/input';
import { eventually, testLogger, uniqueTaskQueue, type Stack, type WorkerOverrides } from '../support/harness';
import { FAST } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { TEST_PRINCIPALS, type TestPrincipal } from '../support/principals';

export { TEST_PRINCIPALS, type TestPrincipal } from '../support/principals';

export interface RunningApi {
  app: FastifyInstance;
  base: string;
  /** The API's tokens file, and a bearer token for each test principal. */
  tokens: TokenFile;
  bearer: Record<TestPrincipal, string>;
  /** A request as `admin`, unless `headers` carries its own authorization. */
  call(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** A request as one test principal. */
  as(who: TestPrincipal, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiAnswer>;
  /** POST a gpu-fault-remediation trigger with the FAST durations. */
  trigger(body: Record<string, unknown>, headers?: Record<string, string>): Promise<ApiAnswer>;
  waitForRun(statusUrl: string, until: (run: any) => boolean, what: string): Promise<any>;
  close(): Promise<void>;
}

export interface ApiAnswer {
  status: number;
  headers: Headers;
  body: any;
}

/** The API as `npm start` builds it, on the test stack, listening on a free loopback port. */
export async function startApi(stack: Stack, taskQueue: string, overrides: Partial<ApiDeps> = {}): Promise<RunningApi> {
  const tokens = new TokenFile(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'api-tokens-')), 'api-tokens.json'));
  const bearer = Object.fromEntries(
    Object.entries(TEST_PRINCIPALS).map(([name, roles]) => [name, tokens.create(name, [...roles], 'test principal').token]),
  ) as Record<TestPrincipal, string>;
  const app = buildApi({
    auth: { tokens },
    client: stack.client,
    pool: stack.pool,
    taskQueue,
    logger: testLogger,
    inventory: stack.inventory,
    alertCooldownMs: 60_000,
    ...overrides,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const call = async (method: string, urlPath: string, body?: unknown, given: Record<string, string> = {}): Promise<ApiAnswer> => {
    const headers = { authorization: `Bearer ${bearer.admin}`, ...given };
    const res = await fetch(`${base}${urlPath}`, {
      method,
      headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
  };
  return {
    app,
    base,
    tokens,
    bearer,
    call,
    as: (who, method, urlPath, body, headers = {}) => call(method, urlPath, body, { ...headers, authorization: `Bearer ${bearer[who]}` }),
    trigger: (body, headers) => call('POST', '/api/v1/runbooks/gpu-fault-remediation/runs', { ...FAST, ...body }, headers),
    waitForRun: (statusUrl, until, what) =>
      eventually(async () => {
        const r = await call('GET', statusUrl);
        return r.status === 200 && until(r.body) ? r.body : undefined;
      }, what),
    close: () => app.close(),
  };
}

/** Forgets the API's alert ledger for a node, so a test starts from no known run. */
export async function clearAlertLedger(stack: Stack, nodeId: string): Promise<void> {
  const workflowId = gpuFaultWorkflowId(nodeId);
  await stack.pool.query('DELETE FROM alert_ledger WHERE workflow_id = $1', [workflowId]);
  await stack.pool.query('DELETE FROM alert_runs WHERE workflow_id = $1', [workflowId]);
}

/** The envelope every error answer has. */
export function expectEnvelope(answer: ApiAnswer, status: number, code: string): void {
  expect({ status: answer.status, code: answer.body?.error?.code }).toEqual({ status, code });
  expect(answer.body).toEqual({ error: { code, message: expect.any(String), details: expect.anything() }, correlation_id: expect.any(String) });
  expect(answer.headers.get('x-correlation-id')).toBe(answer.body.correlation_id);
}

/** A worker on a fresh task queue and the API in front of it; `stop` shuts both down (the stack stays). */
export async function startApiWithWorker(
  stack: Stack,
  name: string,
  workerOptions: WorkerOverrides = {},
): Promise<{ api: RunningApi; taskQueue: string; stop(): Promise<void> }> {
  const taskQueue = uniqueTaskQueue(name);
  const worker = await stack.worker(taskQueue, workerOptions);
  const running = worker.run();
  const api = await startApi(stack, taskQueue);
  return {
    api,
    taskQueue,
    async stop() {
      await api.close();
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
    },
  };
}
