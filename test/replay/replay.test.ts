import fs from 'node:fs';
import path from 'node:path';
import { Worker, type WorkflowBundleWithSourceMap } from '@temporalio/worker';
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

let bundle: WorkflowBundleWithSourceMap;
let tracing: Tracing;
beforeAll(async () => {
  installTemporalRuntime(testLogger);
  tracing = installTracing({ serviceName: 'gpuaas-runbooks-replay' });
  bundle = await bundleWorkflows();
});

test('histories are recorded for the released workflows', () => {
  expect(files.filter((f) => f.startsWith('gpu-fault-remediation/')).length).toBeGreaterThanOrEqual(4);
});

test.each(files)('%s replays without nondeterminism', async (file) => {
  const history = JSON.parse(fs.readFileSync(path.join(HISTORIES, file), 'utf8'));
  await expect(
    Worker.runReplayHistory({ workflowBundle: bundle, sinks: { exporter: makeWorkflowExporter(tracing.spanProcessor, tracing.resource) } }, history, `replay-${file}`),
  ).resolves.toBeUndefined();
});
