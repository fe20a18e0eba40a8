import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { RUNBOOKS } from '../../runbooks/registry';
import { installTemporalRuntime } from '../../runtime/bootstrap';
import { installTracing, type Tracing } from '../../runtime/tracing';
import { bundleWorkflows } from '../../workers/worker';
import { testLogger } from '../support/harness';

/**
 * Determinism guard: every recorded history of every registered runbook
 * (`runbooks/<name>/histories/*.json`) and of the engine's own workflows
 * (`engine/histories/`: ledger, fleet run, drill) must replay against today's
 * workflow code. A change that alters a released workflow's commands fails
 * here; gate it with patched() and record a new version instead.
 */
const ROOT = path.resolve(__dirname, '../..');
const historiesIn = (folder: string): string[] => {
  const dir = path.join(ROOT, folder, 'histories');
  return fs.existsSync(dir)
    ? fs
        .readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => path.join(folder, 'histories', f))
    : [];
};
const historiesOf = (runbook: string): string[] => historiesIn(path.join('runbooks', runbook));
const ENGINE_WORKFLOWS = ['disruptionLedger', 'fleetRun', 'runbookDrill'];
const files = [...RUNBOOKS.flatMap((d) => historiesOf(d.name)), ...historiesIn('engine')];

let released: WorkflowBundleWithSourceMap;
let changed: WorkflowBundleWithSourceMap;
let tracing: Tracing;
beforeAll(async () => {
  installTemporalRuntime(testLogger);
  tracing = installTracing({ serviceName: 'gpuaas-runbooks-replay' });
  released = await bundleWorkflows();
  changed = await bundleWorkflows([require.resolve('./fixtures/extra-timer-interceptor')]);
});

function replay(bundle: WorkflowBundleWithSourceMap, file: string): Promise<void> {
  const history = JSON.parse(fs.readFileSync(path.join(ROOT, file), 'utf8'));
  const sinks = { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return Worker.runReplayHistory({ workflowBundle: bundle, sinks }, history, `replay-${file}`);
}

test.each(RUNBOOKS.map((d) => d.name))('%s has recorded histories to replay', (runbook) => {
  expect(historiesOf(runbook).length).toBeGreaterThan(0);
});

test.each(ENGINE_WORKFLOWS)('the engine workflow %s has a recorded history to replay', (workflowType) => {
  const types = historiesIn('engine').map((f) => {
    const first = JSON.parse(fs.readFileSync(path.join(ROOT, f), 'utf8')).events[0];
    return first.workflowExecutionStartedEventAttributes.workflowType.name;
  });
  expect(types).toContain(workflowType);
});

test('every released version of gpu-fault-remediation is recorded', () => {
  const of = (version: string) => historiesOf('gpu-fault-remediation').filter((f) => path.basename(f).startsWith(`${version}-`));
  expect(of('v1').length).toBeGreaterThanOrEqual(4);
  expect(of('v2').length).toBeGreaterThanOrEqual(4);
  expect(of('v3').length).toBeGreaterThanOrEqual(4);
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  await expect(replay(released, file)).resolves.toBeUndefined();
});

// Negative control: the same histories against changed workflow code must fail.
test.each(files)('%s fails replay against a changed workflow', async (file) => {
  await expect(replay(changed, file)).rejects.toBeInstanceOf(DeterminismViolationError);
});
