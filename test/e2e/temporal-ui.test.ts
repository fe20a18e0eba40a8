/**
 * What an operator sees in the Temporal Web UI: each run's static summary and
 * details (runbook, target, trigger, requester), current details while it waits
 * ("Waiting for 2 approvals ... 1 of 2: alice"), and activity summaries naming the
 * runbook step. Checked in the history and in Debian's Chromium on the real UI;
 * the screenshot is kept in test-artifacts/temporal-ui/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { defaultPayloadConverter } from '@temporalio/common';
import { connectStack, eventually, type Stack } from '../support/harness';
import { testEnv } from '../support/test-env';
import { clearHistory } from '../../runbooks/gpu-fault-remediation/test/scenarios';
import { clearAlertLedger, startApiWithWorker, type RunningApi } from './api-harness';

const NODE = 'dev-gpu-1';
const WORKFLOW_ID = `gpu-fault/${NODE}`;
const runUrl = `/api/v1/runs/${encodeURIComponent(WORKFLOW_ID)}`;
const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOTS = path.join(__dirname, '..', '..', 'test-artifacts', 'temporal-ui');

let stack: Stack;
let api: RunningApi;
let stop: (() => Promise<void>) | undefined;
let browser: Browser;

beforeAll(async () => {
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  stack = await connectStack();
  ({ api, stop } = await startApiWithWorker(stack, 'temporal-ui'));
  browser = await chromium.launch({ executablePath: CHROMIUM });
  await stack.lab.reset();
  await clearHistory(stack, NODE);
  await clearAlertLedger(stack, NODE);
});
afterAll(async () => {
  await browser?.close();
  await stop?.();
  await stack?.close();
});

const text = (payload: unknown) => (payload ? String(defaultPayloadConverter.fromPayload(payload as never)) : undefined);

test('a run waiting for its second RMA approver says so in the Temporal UI; its activities are named after their steps', async () => {
  await stack.lab.injectXid(NODE, 1, 48, true);
  const started = await api.as('olga', 'POST', '/api/v1/runbooks/gpu-fault-remediation/runs', {
    node_id: NODE,
    xid: 48,
    gpu_index: 1,
    source: 'dcgm-exporter',
    drain_timeout: '5s',
    poll_interval: '100ms',
    reboot_timeout: '30s',
    approval_timeout: '10m',
  });
  expect(started.status).toBe(201);
  await api.waitForRun(runUrl, (r) => r.status.pending_approval?.step === 'approve_rma', 'RMA approval');
  expect((await api.as('alice', 'POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'diag r3 failed on GPU 1' })).body.state).toBe('pending');

  // Static summary and details, set at start.
  const handle = stack.client.workflow.getHandle(WORKFLOW_ID, started.body.run_id);
  const description = await handle.describe();
  expect(await description.staticSummary()).toBe(`gpu-fault-remediation on ${NODE} · alert xid=48 gpu=1 from dcgm-exporter`);
  expect(await description.staticDetails()).toContain('**Requested by** olga');

  // Activity summaries in the history name the step and host.
  const history = await handle.fetchHistory();
  const summaries = history.events!.filter((e) => e.activityTaskScheduledEventAttributes).map((e) => text(e.userMetadata?.summary));
  expect(summaries).toContain(`cordon_node on ${NODE}`);
  // Every activity has one: its step and host, or (the inventory look-up) what it looks up.
  expect(summaries.filter((s) => !s || !/^([a-z0-9_]+( on dev-gpu-1)?|for dev-gpu-1)$/.test(s))).toEqual([]);

  // The UI's workflow page shows the summary and what the run waits for, from whom.
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 1100 } })).newPage();
  await page.goto(`${testEnv('temporalUiUrl')}/namespaces/default/workflows/${encodeURIComponent(WORKFLOW_ID)}/${started.body.run_id}/history`);
  await page.getByText(`cordonNode • cordon_node on ${NODE}`).first().waitFor();
  await page.screenshot({ path: path.join(SCREENSHOTS, 'history-with-step-summaries.png'), fullPage: true });
  await page.getByText('User Metadata').first().click();
  // The UI renders the markdown details in frames of their own: read every frame's text.
  const pageText = async () =>
    (
      await Promise.all(
        page.frames().map((f) =>
          f
            .locator('body')
            .innerText()
            .catch(() => ''),
        ),
      )
    ).join('\n');
  await eventually(
    async () => {
      const shown = await pageText();
      const wanted = ['Waiting for 2 approvals', '1 of 2: alice', `gpu-fault-remediation on ${NODE} · alert xid=48`, 'Requested by olga'];
      return wanted.every((w) => shown.includes(w)) ? shown : undefined;
    },
    'the Temporal UI to show the summary and current details',
    60_000,
    500,
  ).catch(async (err) => {
    await page.screenshot({ path: path.join(SCREENSHOTS, 'failed.png'), fullPage: true });
    fs.writeFileSync(path.join(SCREENSHOTS, 'failed.txt'), await pageText());
    throw err;
  });
  await page.screenshot({ path: path.join(SCREENSHOTS, 'waiting-for-second-approver.png'), fullPage: true });

  expect((await api.as('bob', 'POST', `${runUrl}/approvals`, { decision: 'approve', reason: 'agreed' })).body.state).toBe('approved');
  const done = await api.waitForRun(runUrl, (r) => r.execution_status === 'COMPLETED', 'RMA opened');
  expect(done.status.outcome).toBe('rma_opened');
});
