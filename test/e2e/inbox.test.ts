/**
 * The approvals inbox at /ui/, in Debian's Chromium driven by playwright-core: signing in
 * with a bearer token, a pending RMA approval shown with its evidence and tally, the
 * decision made from the page, and the run's outcome. Each stage is screenshotted into
 * test-artifacts/inbox/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { connectStack, type Stack } from '../support/harness';
import { clearHistory, FAST } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { clearAlertLedger, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-3';
const WORKFLOW_ID = `gpu-fault/${NODE}`;
const runUrl = `/api/v1/runs/${encodeURIComponent(WORKFLOW_ID)}`;
const CHROMIUM = '/usr/bin/chromium';
const STATIC_DIR = path.join(__dirname, '..', '..', 'api', 'ui', 'static');
const SCREENSHOTS = path.join(__dirname, '..', '..', 'test-artifacts', 'inbox');

/**
 * Who approves the RMA through the API before bob approves in the page. With the two-person
 * contract (an RMA needs two approvers) that is alice; with one approval deciding, nobody.
 */
const APPROVED_VIA_API_FIRST: ('alice' | 'bob')[] = ['alice'];

let stack: Stack;
let api: RunningApi;
let stopApi: (() => Promise<void>) | undefined;
let browser: Browser;

beforeAll(async () => {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install chromium); .ci/run does`);
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await connectStack();
  ({ api, stop: stopApi } = await startApiWithWorker(stack, 'inbox'));
  browser = await chromium.launch({ executablePath: CHROMIUM });
});
afterAll(async () => {
  await browser?.close();
  await stopApi?.();
  await stack?.close();
});
beforeEach(async () => {
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});

/** A fresh tab (its own session storage) that records script errors and CSP violations. */
async function openPage(query = ''): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => {
    if (/Content Security Policy|Refused to/i.test(msg.text())) problems.push(`console: ${msg.text()}`);
  });
  await page.goto(`${api.base}/ui/${query}`);
  return { page, problems, close: () => context.close() };
}

async function signIn(page: Page, token: string, name: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.locator('#login-form button[type=submit]').click();
  await page.locator('#principal').filter({ hasText: name }).waitFor();
}

const shoot = (page: Page, name: string) => page.screenshot({ path: path.join(SCREENSHOTS, name), fullPage: true });

test('the page is public, strict about what it runs, and renders data as text only', async () => {
  const page = await fetch(`${api.base}/ui/`);
  expect(page.status).toBe(200);
  expect(page.headers.get('content-type')).toMatch(/^text\/html/);
  const csp = page.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'self'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toMatch(/unsafe-inline|unsafe-eval/);
  expect((await fetch(`${api.base}/ui`, { redirect: 'manual' })).headers.get('location')).toBe('/ui/');
  for (const [file, type] of [
    ['inbox.js', /^text\/javascript/],
    ['inbox.css', /^text\/css/],
  ] as const) {
    const r = await fetch(`${api.base}/ui/${file}`);
    expect({ file, status: r.status, type: r.headers.get('content-type') }).toEqual({ file, status: 200, type: expect.stringMatching(type) });
  }
  expect((await fetch(`${api.base}/ui/..%2Fsettings.ts`)).status).toBe(404);
  // The data is not public: the page's own API calls need the token.
  expect((await fetch(`${api.base}/api/v1/whoami`)).status).toBe(401);
  expect((await api.as('vic', 'GET', '/api/v1/whoami')).body).toEqual({ name: 'vic', roles: ['viewer'] });
  const settings = (await api.as('vic', 'GET', '/api/v1/ui/settings')).body;
  expect(settings).toEqual({ temporal_ui_url: expect.stringMatching(/^https?:\/\//), namespace: stack.client.options.namespace });

  // No inline script or handler for the CSP to have to allow, and no HTML built from strings.
  const html = fs.readFileSync(path.join(STATIC_DIR, 'index.html'), 'utf8');
  expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/i);
  expect(html).not.toMatch(/\son[a-z]+=|\sstyle=/i);
  expect(fs.readFileSync(path.join(STATIC_DIR, 'inbox.js'), 'utf8')).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
});

test('without a token the page asks for one; a wrong token is refused with the API’s message', async () => {
  const { page, problems, close } = await openPage();
  try {
    await page.locator('#login-form').waitFor();
    expect(await page.locator('#inbox').isHidden()).toBe(true);
    await shoot(page, '01-login.png');

    await page.locator('#token').fill('gpuaas_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.locator('#login-form button[type=submit]').click();
    const message = page.locator('#login-message');
    await message.filter({ hasText: 'unknown or revoked API token' }).waitFor();
    expect(await message.innerText()).toMatch(/^The API refused the token: unauthenticated: unknown or revoked API token/);
    expect(await page.locator('#inbox').isHidden()).toBe(true);
    expect(await page.evaluate('sessionStorage.length')).toBe(0);
    await shoot(page, '02-wrong-token.png');
    expect(problems).toEqual([]);
  } finally {
    await close();
  }
});

test('an approver sees the pending RMA with its evidence and tally, approves it from the page, and sees the run finish', async () => {
  await stack.lab.injectXid(NODE, 2, 48, true); // persistent, so the run stops at the RMA approval
  const started = await api.as('olga', 'POST', '/api/v1/runbooks/gpu-fault-remediation/runs', {
    ...FAST,
    node_id: NODE,
    xid: 48,
    gpu_index: 2,
    // Time for a browser on a busy machine; the FAST 30 s would race it.
    approval_timeout: '10m',
  });
  expect(started.status).toBe(201);
  const waiting = await api.waitForRun(runUrl, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval');
  let pending = waiting.status.pending_approval;
  // The contract in force must be the one this test is written for (see APPROVED_VIA_API_FIRST).
  expect({ min_approvals: pending.min_approvals ?? 1 }).toEqual({ min_approvals: APPROVED_VIA_API_FIRST.length + 1 });

  for (const who of APPROVED_VIA_API_FIRST) {
    const r = await api.as(who, 'POST', `${runUrl}/approvals`, {
      decision: 'approve',
      reason: `${who}: Xid 48 persists after the reset`,
      approval_id: pending.id,
      shown_hash: pending.shown_hash,
    });
    expect({ who, status: r.status, state: r.body.state }).toEqual({ who, status: 200, state: 'pending' });
  }
  if (APPROVED_VIA_API_FIRST.length > 0) pending = (await api.call('GET', runUrl)).body.status.pending_approval;
  const card = (page: Page) => page.locator(`article.approval[data-workflow-id="${WORKFLOW_ID}"]`);

  if (pending.min_approvals !== undefined) {
    // The requester sees why she cannot approve her own run (two-person rule).
    expect(pending.forbidden_approvers).toEqual(['olga']);
    const requester = await openPage();
    try {
      await signIn(requester.page, api.bearer.olga, 'olga');
      await card(requester.page).waitFor({ timeout: 30_000 });
      expect(await card(requester.page).innerText()).toContain('You requested this run: you cannot approve it');
      expect(await card(requester.page).locator('button.approve').isDisabled()).toBe(true);
      expect(requester.problems).toEqual([]);
    } finally {
      await requester.close();
    }
  }

  const { page, problems, close } = await openPage('?refresh=2');
  try {
    await signIn(page, api.bearer.bob, 'bob');
    const pendingCard = card(page);
    await pendingCard.waitFor({ timeout: 30_000 });
    const shown = await pendingCard.innerText();
    expect(shown).toContain(pending.question);
    expect(shown).toContain('approve_rma');
    for (const key of Object.keys(pending.context)) expect(shown).toContain(key);
    expect(shown).toContain('olga'); // the requester
    expect(shown).toMatch(/left \(until /);
    if (pending.disruption) expect(shown).toContain(pending.disruption);
    if (APPROVED_VIA_API_FIRST.length > 0) {
      expect(shown).toContain(`${APPROVED_VIA_API_FIRST.length} of ${pending.min_approvals} approvals`);
      for (const who of APPROVED_VIA_API_FIRST) expect(shown).toContain(who);
    }
    const temporal = await pendingCard.locator('a.temporal').getAttribute('href');
    expect(temporal).toContain(`/workflows/${encodeURIComponent(WORKFLOW_ID)}/`);
    await shoot(page, '03-pending.png');

    await pendingCard.locator('textarea').fill('second pair of eyes: Xid 48 came back after the reset; replace GPU 2');
    await pendingCard.locator('button.approve').click();
    const logged = page.locator('#decisions li').filter({ hasText: WORKFLOW_ID });
    await logged.waitFor();
    const approvers = [...APPROVED_VIA_API_FIRST, 'bob'];
    expect(await logged.innerText()).toMatch(
      pending.min_approvals === undefined ? /sent: approve/ : `recorded: ${approvers.length} of ${pending.min_approvals} approvals (${approvers.join(', ')})`,
    );
    await shoot(page, '04-decided.png');

    const done = await api.waitForRun(runUrl, (r) => r.execution_status === 'COMPLETED', 'completion');
    expect(done.status.outcome).toBe('rma_opened');
    expect(done.status.approvals.at(-1)).toMatchObject({ step: 'approve_rma', decision: 'approve', actor: expect.stringContaining('bob') });
    // The page's recent outcomes show it too (the page refreshes every 2 s).
    await page.locator(`#recent-list tr[data-run-id="${done.run_id}"] td.outcome`).filter({ hasText: 'rma_opened' }).waitFor({ timeout: 30_000 });
    expect(await pendingCard.count()).toBe(0);
    await shoot(page, '05-outcome.png');
    expect(problems).toEqual([]);
  } finally {
    await close();
  }
});
