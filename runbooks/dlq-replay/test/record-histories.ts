/**
 * Records dlq-replay's histories for the replay tests:
 * `npx tsx runbooks/dlq-replay/test/record-histories.ts [scenario...]`.
 */
import path from 'node:path';
import { ORCHESTRATOR_DLQ } from '../../../domain/orchestrator';
import type { Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { testEnv } from '../../../test/support/test-env';
import { dlqReplayWorkflowId } from '../input';
import { orchestratorDriver } from './scenarios';

/** The released version being recorded. */
const VERSION = 'v1';

const FAST = { poll_interval: '50ms', settle_timeout: '20s', rate_per_second: 20 } as const;

function driver(s: Stack) {
  return orchestratorDriver({
    platformUrl: testEnv('platformUrl'),
    platformToken: testEnv('platformToken'),
    inventory: s.inventory,
    clientKeyPath: testEnv('clientKeyFile'),
  });
}

/** A storm from a missing artifact, fixed (`restore`) or not, then the run. */
async function storm(s: Stack, tq: string, name: string, restore: boolean, runMode: 'live' | 'plan' = 'live') {
  const lab = driver(s);
  await lab.reset();
  const removedFrom = await lab.storm(name, 5);
  if (restore) await lab.restoreArtifact(removedFrom);
  return s.client.workflow.start('dlqReplay', {
    taskQueue: tq,
    workflowId: `${dlqReplayWorkflowId(ORCHESTRATOR_DLQ)}/${name}`,
    args: [{ ...FAST, batch_size: 10, run_mode: runMode }],
  });
}

const scenarios: Record<string, Scenario> = {
  replayed: (s, tq) => storm(s, tq, 'replayed', true),
  'root-cause-not-fixed': (s, tq) => storm(s, tq, 'root-cause-not-fixed', false),
  planned: (s, tq) => storm(s, tq, 'planned', true, 'plan'),
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios, orchestrator: true });
