/**
 * The orchestrator's alert rules (monitoring/alerts/gpu-orchestrator.rules.yml) as Prometheus
 * itself reads them: `promtool check rules`, then `promtool test rules` with series that fire
 * and series that stay quiet. A copy with the page's threshold moved must fail those tests, so
 * they do test the threshold.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPromtool, PROMETHEUS_INSTALL_HINT } from '../../infra/prometheus-binaries';

const ALERTS_DIR = path.resolve(__dirname, '../../monitoring/alerts');
const RULES = path.join(ALERTS_DIR, 'gpu-orchestrator.rules.yml');
const RULE_TESTS = path.join(ALERTS_DIR, 'gpu-orchestrator.rules.test.yml');

interface Run {
  code: number;
  output: string;
}

function promtool(args: string[], cwd = ALERTS_DIR): Promise<Run> {
  const binary = findPromtool();
  if (!binary) throw new Error(`no promtool on PATH. ${PROMETHEUS_INSTALL_HINT}`);
  return new Promise((resolve) => {
    execFile(binary, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

test('promtool accepts the rules file: two alerting rules', async () => {
  const run = await promtool(['check', 'rules', RULES]);
  expect(run.output).toMatch(/SUCCESS: 2 rules found/);
  expect(run.code).toBe(0);
});

test('the rules fire on a backlog above 100 and on saturated leases after their `for:`, and stay quiet otherwise', async () => {
  const run = await promtool(['test', 'rules', RULE_TESTS]);
  expect(run.output).toMatch(/SUCCESS/);
  expect(run.code).toBe(0);
});

test('the rule tests fail against a rule whose threshold moved (they test the threshold, not just the syntax)', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alert-rules-'));
  try {
    const rules = fs.readFileSync(RULES, 'utf8');
    const moved = rules.replace('(gpu_orchestrator_pending_jobs) > 100', '(gpu_orchestrator_pending_jobs) > 200');
    expect(moved).not.toBe(rules);
    fs.writeFileSync(path.join(dir, path.basename(RULES)), moved);
    fs.copyFileSync(RULE_TESTS, path.join(dir, path.basename(RULE_TESTS)));
    const run = await promtool(['test', 'rules', path.basename(RULE_TESTS)], dir);
    expect(run.code).not.toBe(0);
    expect(run.output).toMatch(/GpuOrchestratorPendingJobsBacklog/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
