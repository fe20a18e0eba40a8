import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
import { DeterminismViolationError } from '@temporalio/workflow';
import { makeWorkflowExporter } from '@temporalio/interceptors-opentelemetry';
import { installTemporalRuntime } from '../../workers/bootstrap';
import { installTracing, type Tracing } from '../../workers/tracing';
import { bundleWorkflows } from '../../workers/worker';
import { testLogger } from '../support/harness';

/**
 * Determinism guard: every recorded history must replay against today's
 * workflow code. A change that alters a released workflow's commands fails
 * here; gate it with patched() and record a new version instead.
 */
const HISTORIES = path.join(__dirname, 'histories');
const files = fs
  .readdirSync(HISTORIES, { recursive: true, encoding: 'utf8' })
  .filter((f) => f.endsWith('.json'))
  .sort();

let released: WorkflowBundleWithSourceMap;
let changed: WorkflowBundleWithSourceMap;
let tracing: Tracing;
beforeAll(async () => {
  installTemporalRuntime(testLogger);
  tracing = installTracing({ serviceName: 'gpuaas-runbooks-replay' });
  released = await bundleWorkflows();
  changed = await bundleWorkflows(require.resolve('./fixtures/changed-workflows'));
});

function replay(bundle: WorkflowBundleWithSourceMap, file: string): Promise<void> {
  const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
  const sinks = { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) };
  return Worker.runReplayHistory({ workflowBundle: bundle, sinks }, history, `replay-${file}`);
}

test('histories are recorded for both released versions of gpu-fault-remediation', () => {
  const of = (version: string) => files.filter((f) => f.startsWith(`gpu-fault-remediation/${version}-`));
  expect(of('v1').length).toBeGreaterThanOrEqual(4);
  expect(of('v2').length).toBeGreaterThanOrEqual(4);
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  await expect(replay(released, file)).resolves.toBeUndefined();
});

// Negative control: the same histories against a changed workflow must fail.
test.each(files)('%s fails replay against a changed workflow', async (file) => {
  await expect(replay(changed, file)).rejects.toBeInstanceOf(DeterminismViolationError);
});
