/**
 * The audit trail: every authenticated change (and refused attempt) through the API
 * is a row with its principal, route, target, status and correlation id, chained by
 * hash; the table refuses changes, and the chain check finds an edit or a deletion
 * made by someone who got past that.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { connectStack, type Stack } from '../support/harness';
import { testEnv } from '../support/test-env';
import { clearAlertLedger, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-4';
const ROOT = path.resolve(__dirname, '../..');
let stack: Stack;
let api: RunningApi;
let stopApi: (() => Promise<void>) | undefined;

beforeAll(async () => {
  stack = await connectStack();
  ({ api, stop: stopApi } = await startApiWithWorker(stack, 'audit'));
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});
afterAll(async () => {
  await stopApi?.();
  await stack?.close();
});

/** `npm run audit -- verify` against the test database: its exit code and output. */
async function verifyCommand(): Promise<{ code: number; out: string }> {
  try {
    const { stdout } = await promisify(execFile)(path.join(ROOT, 'node_modules/.bin/tsx'), ['scripts/audit.ts', 'verify'], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: testEnv('databaseUrl') },
    });
    return { code: 0, out: stdout };
  } catch (err) {
    const e = err as { code: number; stdout: string };
    return { code: e.code, out: e.stdout };
  }
}

/** Runs `sql` as someone who can switch the append-only triggers off (a superuser), then switches them back on. */
async function pastTheTriggers(sql: string, params: unknown[]): Promise<void> {
  await stack.pool.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
  try {
    await stack.pool.query(sql, params);
  } finally {
    await stack.pool.query('ALTER TABLE audit_log ENABLE TRIGGER USER');
  }
}

test('changes are recorded with who, what, on what and how it ended; the table refuses edits; the chain check finds one', async () => {
  const started = await api.as(
    'olga',
    'POST',
    '/api/v1/runbooks/gpu-fault-remediation/runs',
    { node_id: NODE, poll_interval: '100ms' },
    { 'x-correlation-id': 'audit-start' },
  );
  expect(started.status).toBe(201);
  const refused = await api.as(
    'vic',
    'POST',
    `/api/v1/runs/${encodeURIComponent(started.body.workflow_id)}/cancel`,
    { reason: 'not mine to cancel' },
    { 'x-correlation-id': 'audit-refused' },
  );
  expect(refused.status).toBe(403);
  const token = await api.call('POST', '/api/v1/tokens', { principal: 'dora', roles: ['viewer'] }, { 'x-correlation-id': 'audit-token' });
  expect(token.status).toBe(201);
  // A body PostgreSQL cannot store as JSON (a lone surrogate, a NUL) is refused, and audited all the same,
  // as are the requests that arrived with it.
  const hostile = await Promise.all([
    api.as(
      'olga',
      'POST',
      '/api/v1/runbooks/gpu-fault-remediation/runs',
      { node_id: NODE, source: 'alice\ud800\u0000' },
      { 'x-correlation-id': 'audit-hostile' },
    ),
    api.as('vic', 'POST', '/api/v1/budgets/release', { scope: 'rack/rack-1', node_id: NODE, reason: 'x' }, { 'x-correlation-id': 'audit-beside' }),
  ]);
  expect(hostile.map((r) => r.status)).toEqual([400, 403]);

  // Every entry, page by page (other suites share the database).
  const entries: { seq: number; correlation_id: string; action: string }[] = [];
  for (let after = 0; ;) {
    const page = (await api.as('vic', 'GET', `/api/v1/audit?limit=1000&after=${after}`)).body;
    entries.push(...page.entries);
    if (page.next_after === null) break;
    after = page.next_after;
  }
  const mine = ['audit-start', 'audit-refused', 'audit-token', 'audit-hostile', 'audit-beside'].map(
    (id) => entries.find((e) => e.correlation_id === id) as any,
  );
  expect(mine).toEqual([
    expect.objectContaining({
      principal: 'olga',
      via: 'token',
      action: 'POST /api/v1/runbooks/:runbook/runs',
      target: 'runbook=gpu-fault-remediation',
      status: 201,
      correlation_id: 'audit-start',
      detail: {
        body: expect.objectContaining({ node_id: NODE }),
        answer: expect.objectContaining({ workflow_id: started.body.workflow_id, alert: 'started' }),
      },
    }),
    expect.objectContaining({
      principal: 'vic',
      action: 'POST /api/v1/runs/:workflowId/cancel',
      status: 403,
      detail: expect.objectContaining({ answer: { error: 'forbidden' } }),
    }),
    expect.objectContaining({ principal: 'admin', action: 'POST /api/v1/tokens', status: 201 }),
    expect.objectContaining({
      principal: 'olga',
      status: 400,
      detail: expect.objectContaining({ body: expect.objectContaining({ source: 'alice\ufffd\u2400' }) }),
    }),
    expect.objectContaining({ principal: 'vic', action: 'POST /api/v1/budgets/release', status: 403 }),
  ]);
  // The token made is never in the trail.
  expect(JSON.stringify(entries)).not.toContain(token.body.token);
  // Reads are not changes.
  expect(entries.some((e: { action: string }) => e.action.startsWith('GET'))).toBe(false);

  expect((await api.call('GET', '/api/v1/audit/verify')).body).toEqual({ ok: true, rows: entries.length });
  expect(await verifyCommand()).toEqual({ code: 0, out: `audit trail intact: ${entries.length} row(s)\n` });

  // Append-only: the database itself refuses.
  const victim = mine[0];
  await expect(stack.pool.query(`UPDATE audit_log SET principal = 'mallory' WHERE seq = $1`, [victim.seq])).rejects.toThrow(/append-only/);
  await expect(stack.pool.query('DELETE FROM audit_log WHERE seq = $1', [victim.seq])).rejects.toThrow(/append-only/);
  await expect(stack.pool.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);

  // Someone past the triggers edits a row: the chain check names it.
  await pastTheTriggers(`UPDATE audit_log SET principal = 'mallory' WHERE seq = $1`, [victim.seq]);
  try {
    expect((await api.call('GET', '/api/v1/audit/verify')).body).toEqual({
      ok: false,
      rows: expect.any(Number),
      broken: { seq: victim.seq, problem: 'its content does not match its hash (edited?)' },
    });
    const command = await verifyCommand();
    expect(command.code).toBe(1);
    expect(command.out).toContain(`BROKEN at row ${victim.seq}`);
  } finally {
    await pastTheTriggers(`UPDATE audit_log SET principal = 'olga' WHERE seq = $1`, [victim.seq]);
  }
  // ... or deletes one: the gap is found too.
  const row = (await stack.pool.query('SELECT * FROM audit_log WHERE seq = $1', [victim.seq])).rows[0];
  await pastTheTriggers('DELETE FROM audit_log WHERE seq = $1', [victim.seq]);
  try {
    expect((await api.call('GET', '/api/v1/audit/verify')).body.broken).toEqual({ seq: victim.seq + 1, problem: `row ${victim.seq} is missing (deleted?)` });
  } finally {
    const columns = Object.keys(row);
    await pastTheTriggers(
      `INSERT INTO audit_log (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
      columns.map((c) => row[c]),
    );
  }
  expect((await api.call('GET', '/api/v1/audit/verify')).body.ok).toBe(true);
});
