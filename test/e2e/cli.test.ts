/**
 * The operator CLI, end to end: the real `bin/gpuaas-runbooks` as a child process
 * against the API and a worker on the test stack. What a script relies on is
 * checked: `-o json` parses, each kind of failure has its exit code, errors go to
 * stderr as `error: <code>: <message>`.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EXIT } from '../../cli/exit-codes';
import { findFreePort } from '../../infra/free-port';
import { clearHistory, FAST } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { connectStack, eventually, type Stack } from '../support/harness';
import { clearAlertLedger, startApiWithWorker, type RunningApi, type TestPrincipal } from './api-harness';

const ROOT = path.resolve(__dirname, '../..');
const BIN = path.join(ROOT, 'bin', 'gpuaas-runbooks');
const NODE = 'dev-gpu-4';
const WORKFLOW_ID = `gpu-fault/${NODE}`;
const runUrl = `/api/v1/runs/${encodeURIComponent(WORKFLOW_ID)}`;

let stack: Stack;
let api: RunningApi;
let stop: (() => Promise<void>) | undefined;
let scratch: string;
/** The FAST durations as a file for `start --input-file`. */
let fastInput: string;

beforeAll(async () => {
  stack = await connectStack();
  ({ api, stop } = await startApiWithWorker(stack, 'cli'));
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-test-'));
  fastInput = path.join(scratch, 'fast.json');
  fs.writeFileSync(fastInput, JSON.stringify(FAST));
});
afterAll(async () => {
  await stop?.();
  await stack?.close();
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the CLI with `args` and nothing from the caller's environment that could
 * name another API or token (no GPUAAS_* variables, an empty config home).
 */
function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('GPUAAS_')));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: ROOT,
      env: { ...clean, XDG_CONFIG_HOME: path.join(scratch, 'no-config'), ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c) => (stdout += c));
    child.stderr.on('data', (c) => (stderr += c));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The CLI as one test principal, against the test API. */
const as = (who: TestPrincipal, ...args: string[]) => cli(['--api-url', api.base, '--token', api.bearer[who], ...args]);

/** The pending approval's step, once the run waits for it. */
const waitForPending = (step: string) => api.waitForRun(runUrl, (r) => r.status?.pending_approval?.step === step, `approval ${step}`);

/** A run that stops at the RMA approval: a persistent double-bit ECC error, started by olga through the CLI. */
async function startWaitingRma(): Promise<void> {
  await stack.lab.injectXid(NODE, 2, 48, true);
  const started = await as('olga', 'start', 'gpu-fault-remediation', '--node', NODE, '--input-file', fastInput, '--set', 'xid=48', '--set', 'gpu_index=2');
  expect(started).toMatchObject({ code: EXIT.ok, stdout: expect.stringMatching(new RegExp(`^started ${WORKFLOW_ID} \\(run [0-9a-f-]{36}\\)$`, 'm')) });
  await waitForPending('approve_rma');
}

test('start, runs watch, runs ls -o json and runs show: a run from its start to its outcome', async () => {
  const started = await as('olga', 'start', 'gpu-fault-remediation', '--node', NODE, '--input-file', fastInput);
  expect(started.stderr).toContain(`runs show ${WORKFLOW_ID}`);
  expect(started.code).toBe(EXIT.ok);
  const runId = started.stdout.match(/\(run ([0-9a-f-]{36})\)/)?.[1];
  expect(runId).toBeDefined();

  const watched = await as('vic', 'runs', 'watch', WORKFLOW_ID, '--interval', '200ms');
  expect(watched.code).toBe(EXIT.ok);
  expect(watched.stdout).toMatch(/^\d\d:\d\d:\d\d {2}phase \w+$/m);
  expect(watched.stdout).toMatch(/^\d\d:\d\d:\d\d {2}step \S+ completed/m);
  expect(watched.stdout).toMatch(/outcome no_fault_found\n.*run COMPLETED\n$/);

  // The listing reads Temporal's visibility store, which catches up a moment later.
  const listed = await eventually(async () => {
    const r = await as('vic', 'runs', 'ls', '-o', 'json', '--node', NODE, '--status', 'completed', '--limit', '5');
    expect(r.code).toBe(EXIT.ok);
    const body = JSON.parse(r.stdout);
    return body.runs.some((run: { run_id: string }) => run.run_id === runId) ? body : undefined;
  }, 'the run in runs ls');
  expect(listed.runs.find((r: { run_id: string }) => r.run_id === runId)).toMatchObject({
    workflow_id: WORKFLOW_ID,
    runbook: 'gpu-fault-remediation',
    node_id: NODE,
    execution_status: 'COMPLETED',
  });
  const table = await as('vic', 'runs', 'ls', '--node', NODE);
  expect(table.stdout).toMatch(/^WORKFLOW ID\s+RUN\s+RUNBOOK\s+NODE\s+STATUS\s+PHASE/);
  expect(table.stdout).toContain(WORKFLOW_ID);

  const shown = await as('vic', 'runs', 'show', WORKFLOW_ID);
  expect(shown.code).toBe(EXIT.ok);
  expect(shown.stdout).toMatch(/^phase\s+done$/m);
  expect(shown.stdout).toMatch(/^outcome\s+no_fault_found$/m);
  expect(shown.stdout).toMatch(/^requested by\s+olga$/m);
  expect(shown.stdout).toMatch(/^steps:$/m);
  const json = JSON.parse((await as('vic', 'runs', 'show', WORKFLOW_ID, '-o', 'json')).stdout);
  expect(json).toMatchObject({ workflow_id: WORKFLOW_ID, run_id: runId, execution_status: 'COMPLETED', status: { phase: 'done', outcome: 'no_fault_found' } });
});

test('each kind of failure has its exit code and an "error: <code>: <message>" line on stderr', async () => {
  const viewerStart = await as('vic', 'start', 'gpu-fault-remediation', '--node', NODE);
  expect(viewerStart).toMatchObject({ code: EXIT.auth, stdout: '', stderr: expect.stringMatching(/^error: forbidden: .*\n {2}needs role operator$/m) });

  const unknownRun = await as('vic', 'runs', 'show', 'gpu-fault/no-such-node');
  expect(unknownRun).toMatchObject({ code: EXIT.notFound, stderr: expect.stringMatching(/^error: run_not_found: /) });

  const invalid = await as('olga', 'start', 'gpu-fault-remediation', '--node', NODE, '--set', 'gpu_index=-1');
  expect(invalid).toMatchObject({ code: EXIT.usage, stderr: expect.stringMatching(/^error: invalid_input: .*\n {2}gpu_index: /) });

  const usage = await as('olga', 'start', 'gpu-fault-remediation');
  expect(usage).toMatchObject({ code: EXIT.usage, stderr: expect.stringMatching(/^error: usage: required option '--node <id>' not specified/) });

  const noToken = await cli(['--api-url', api.base, 'runs', 'ls']);
  expect(noToken).toMatchObject({ code: EXIT.auth, stderr: expect.stringMatching(/^error: no_token: /) });

  const badToken = await cli(['--api-url', api.base, '--token', `${api.bearer.vic.slice(0, -1)}x`, 'runs', 'ls']);
  expect(badToken).toMatchObject({ code: EXIT.auth, stderr: expect.stringMatching(/^error: unauthenticated: /) });

  const down = await cli(['--api-url', `http://127.0.0.1:${await findFreePort()}`, '--token', api.bearer.vic, 'runs', 'ls']);
  expect(down).toMatchObject({ code: EXIT.unavailable, stderr: expect.stringMatching(/^error: api_unreachable: .*ECONNREFUSED/) });

  // Nothing pending, nothing running: conflicts with the run's state.
  const started = await as('olga', 'start', 'gpu-fault-remediation', '--node', NODE, '--input-file', fastInput);
  expect(started.code).toBe(EXIT.ok);
  expect((await as('vic', 'runs', 'watch', WORKFLOW_ID, '--interval', '200ms')).code).toBe(EXIT.ok);
  const nothingPending = await as('alice', 'approve', WORKFLOW_ID, '--reason', 'nothing to approve');
  expect(nothingPending).toMatchObject({ code: EXIT.conflict, stderr: expect.stringMatching(/^error: no_pending_approval: /) });
  const notRunning = await as('olga', 'cancel', WORKFLOW_ID, '--reason', 'too late');
  expect(notRunning).toMatchObject({ code: EXIT.conflict, stderr: expect.stringMatching(/^error: not_running: /) });
});

test('approve: an RMA needs two approvers; each decision says where the approval stands; a stale or repeated one is refused', async () => {
  await startWaitingRma();

  const shown = await as('alice', 'runs', 'show', WORKFLOW_ID);
  expect(shown.stdout).toMatch(/^pending approval approve_rma \(rma\)$/m);
  expect(shown.stdout).toMatch(/^ {2}approvals\s+0 of 2$/m);
  expect(shown.stdout).toMatch(/^ {2}not by\s+olga$/m);

  // The CLI sends the approval it read; naming another one is a stale view.
  const stale = await as('alice', 'approve', WORKFLOW_ID, '--reason', 'old tab', '--approval-id', 'not-the-pending-one');
  expect(stale).toMatchObject({ code: EXIT.conflict, stderr: expect.stringMatching(/^error: stale_approval: /m) });
  expect((await as('vic', 'approve', WORKFLOW_ID, '--reason', 'not mine')).code).toBe(EXIT.auth);
  expect((await as('olga', 'approve', WORKFLOW_ID, '--reason', 'my own run')).code).toBe(EXIT.auth);

  const first = await as('alice', 'approve', WORKFLOW_ID, '--reason', 'diag failed twice; replace GPU 2');
  expect(first).toMatchObject({ code: EXIT.ok, stdout: 'approved (1 of 2: alice)\nstill pending: 1 more approval needed\n' });
  expect(first.stderr).toContain('approving approve_rma of');
  const again = await as('alice', 'approve', WORKFLOW_ID, '--reason', 'really');
  expect(again).toMatchObject({ code: EXIT.conflict, stderr: expect.stringMatching(/^error: duplicate_approver: /m) });
  expect((await as('vic', 'runs', 'show', WORKFLOW_ID)).stdout).toMatch(/^ {2}approvals\s+1 of 2: alice$/m);

  const second = await as('bob', 'approve', WORKFLOW_ID, '--reason', 'agreed', '-o', 'json');
  expect(second.code).toBe(EXIT.ok);
  expect(JSON.parse(second.stdout)).toMatchObject({ decision: 'approve', actor: 'bob', state: 'approved', min_approvals: 2 });

  const watched = await as('vic', 'runs', 'watch', WORKFLOW_ID, '--interval', '200ms');
  expect(watched.code).toBe(EXIT.ok);
  expect(watched.stdout).toMatch(/approval approve_rma approve by /);
  expect(watched.stdout).toMatch(/outcome rma_opened\n.*run COMPLETED\n$/);
});

test('reject holds the node; cancel ends the run and runs watch exits 6', async () => {
  await startWaitingRma();
  const rejected = await as('bob', 'reject', WORKFLOW_ID, '--reason', 'not before the vendor call');
  expect(rejected).toMatchObject({ code: EXIT.ok, stdout: expect.stringMatching(/^rejected \(by bob\)\napproval \S+ is rejected/) });
  const held = await as('vic', 'runs', 'watch', WORKFLOW_ID, '--interval', '200ms', '-o', 'json');
  expect(held.code).toBe(EXIT.ok);
  const events = held.stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));
  expect(events.at(-1)).toMatchObject({ workflow_id: WORKFLOW_ID, kind: 'run', execution_status: 'COMPLETED' });
  expect(events).toContainEqual(expect.objectContaining({ kind: 'outcome', outcome: 'held_for_operator' }));

  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
  await startWaitingRma();
  const cancelled = await as('olga', 'cancel', WORKFLOW_ID, '--reason', 'wrong node');
  expect(cancelled).toMatchObject({ code: EXIT.ok, stdout: expect.stringMatching(new RegExp(`^cancel requested for ${WORKFLOW_ID}`)) });
  const watched = await as('vic', 'runs', 'watch', WORKFLOW_ID, '--interval', '200ms');
  expect(watched).toMatchObject({ code: EXIT.badOutcome, stderr: expect.stringMatching(/^error: run_ended_badly: .* ended CANCELLED/m) });
});

test('tokens create prints the token once, on stdout; it works, is never listed and is revoked by rm', async () => {
  const made = await as('admin', 'tokens', 'create', '--principal', 'carol', '--role', 'viewer', '--role', 'operator', '--description', 'cli test');
  expect(made.code).toBe(EXIT.ok);
  expect(made.stdout).toMatch(/^gpuaas_[a-f0-9]{12}_[A-Za-z0-9_-]{43}\n$/);
  const token = made.stdout.trim();
  const id = token.split('_')[1]!;
  expect(made.stderr).toContain(`token ${id} for carol (viewer, operator)`);
  expect(made.stderr).not.toContain(token);

  expect((await cli(['--api-url', api.base, '--token', token, 'runs', 'ls'])).code).toBe(EXIT.ok);
  // The token from a file (as lab mode writes .data/lab-admin-token) and from the config file.
  const tokenFile = path.join(scratch, 'carol-token');
  fs.writeFileSync(tokenFile, `${token}\n`, { mode: 0o600 });
  expect((await cli(['--api-url', api.base, '--token-file', tokenFile, 'runs', 'ls'])).code).toBe(EXIT.ok);
  const config = path.join(scratch, 'config.json');
  fs.writeFileSync(config, JSON.stringify({ api_url: api.base, token_file: tokenFile }));
  expect((await cli(['runs', 'ls'], { GPUAAS_CONFIG: config })).code).toBe(EXIT.ok);

  const listed = await as('admin', 'tokens', 'ls', '-o', 'json');
  expect(JSON.parse(listed.stdout).tokens).toContainEqual(expect.objectContaining({ id, principal: 'carol', roles: ['viewer', 'operator'] }));
  expect(listed.stdout).not.toContain(token);

  expect(await as('admin', 'tokens', 'rm', id)).toMatchObject({ code: EXIT.ok, stdout: '1 token revoked\n' });
  expect((await cli(['--api-url', api.base, '--token', token, 'runs', 'ls'])).code).toBe(EXIT.auth);
  expect((await as('admin', 'tokens', 'rm', id)).code).toBe(EXIT.notFound);
});

test('audit: ls lists what was done through the CLI; verify exits 0 on an intact chain', async () => {
  // Filtered by the API: other suites share the trail, so the first page of everything may be theirs.
  const listed = await as('vic', 'audit', 'ls', '--principal', 'admin', '--action', 'POST /api/v1/tokens', '-o', 'json');
  expect(listed.code).toBe(EXIT.ok);
  const actions = JSON.parse(listed.stdout).entries.map((e: { action: string; principal: string }) => `${e.principal} ${e.action}`);
  expect(actions.length).toBeGreaterThan(0);
  expect(new Set(actions)).toEqual(new Set(['admin POST /api/v1/tokens']));
  const verified = await as('vic', 'audit', 'verify');
  expect(verified).toMatchObject({ code: EXIT.ok, stdout: expect.stringMatching(/^audit chain intact \(\d+ entries\)\n$/) });
});

test('drills and budgets: create, list, pause, delete a drill; budgets lists scopes', async () => {
  const id = `cli-${Date.now()}`;
  const created = await as(
    'admin',
    'drills',
    'create',
    id,
    '--runbook',
    'gpu-fault-remediation',
    '--scenario',
    'transient-xid',
    '--node',
    NODE,
    '--every',
    '24h',
    '--paused',
  );
  expect(created.code).toBe(EXIT.ok);
  expect(created.stdout).toMatch(new RegExp(`^drill ${id} created\n`));
  expect(
    (await as('admin', 'drills', 'create', id, '--runbook', 'gpu-fault-remediation', '--scenario', 'transient-xid', '--node', NODE, '--every', '24h')).code,
  ).toBe(EXIT.conflict);
  const listed = JSON.parse((await as('vic', 'drills', 'ls', '-o', 'json')).stdout);
  expect(listed.drills).toContainEqual(expect.objectContaining({ id, node_id: NODE, paused: true }));
  expect((await as('admin', 'drills', 'unpause', id)).stdout).toBe(`drill ${id}: unpaused\n`);
  expect((await as('vic', 'drills', 'show', id)).stdout).toMatch(/^paused\s+no$/m);
  expect((await as('vic', 'drills', 'reports', id)).stdout).toBe('(none)\n');
  expect((await as('admin', 'drills', 'delete', id)).stdout).toBe(`drill ${id} deleted\n`);
  expect((await as('vic', 'drills', 'show', id)).code).toBe(EXIT.notFound);
  // The drill's own input (--set): a malformed time placeholder is refused before any schedule exists.
  const late = `${id}-late`;
  const malformed = await as(
    'admin',
    'drills',
    'create',
    late,
    '--runbook',
    'gpu-fault-remediation',
    '--scenario',
    'transient-xid',
    '--node',
    NODE,
    '--every',
    '24h',
    '--set',
    'source={now+2x}',
  );
  expect(malformed).toMatchObject({
    code: EXIT.usage,
    stderr: expect.stringMatching(/^error: invalid_input: .*\n {2}input\.source: malformed time placeholder \{now\+2x\}/),
  });
  expect((await as('vic', 'drills', 'show', late)).code).toBe(EXIT.notFound);

  const budgets = await as('vic', 'budgets', '-o', 'json');
  expect(budgets.code).toBe(EXIT.ok);
  expect(Array.isArray(JSON.parse(budgets.stdout).scopes)).toBe(true);
  const release = await as('admin', 'budgets', 'release', '--scope', 'rack/nowhere', '--node', NODE, '--reason', 'test');
  expect(release).toMatchObject({ code: EXIT.notFound, stderr: expect.stringMatching(/^error: scope_not_found: /) });
});
