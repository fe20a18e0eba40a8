/**
 * Records drain-and-rolling-upgrade's histories for the replay tests:
 * `npx tsx runbooks/drain-and-rolling-upgrade/test/record-histories.ts [scenario...]`.
 * The lab runs the orchestrator on the recording stack's Redis and SQL.
 */
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { testEnv } from '../../../test/support/test-env';
import path from 'node:path';
import { addJobs, decide, startUpgrade } from './scenarios';

/** The released version being recorded. */
const VERSION = 'v1';

const lab = () => ({ platformUrl: testEnv('platformUrl'), platformToken: testEnv('platformToken') });

async function labCall(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(route, testEnv('platformUrl')), {
    method,
    headers: { authorization: `Bearer ${testEnv('platformToken')}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${route} → ${res.status}: ${await res.text()}`);
  return (await res.json()) as Record<string, unknown>;
}

/** A reset lab with a leader elected; returns the leader's node. */
async function freshOrchestrator(s: Stack): Promise<string> {
  await s.lab.reset();
  return eventually(
    async () => {
      const state = (await labCall('GET', '/lab/v1/orchestrator/state')) as { replicas: { node_id: string; is_leader: boolean }[] };
      return state.replicas.find((r) => r.is_leader)?.node_id;
    },
    'a leader',
    60_000,
  );
}

const scenarios: Record<string, Scenario> = {
  upgraded: async (s, tq) => {
    await freshOrchestrator(s);
    await addJobs(lab(), 'rec-before', 3);
    const handle = await startUpgrade(s, tq, { replica_timeout: '1m', verify_timeout: '1m' });
    await decide(handle, 'approve_upgrade', 'approve');
    return handle;
  },
  'rolled-back': async (s, tq) => {
    const leader = await freshOrchestrator(s);
    await labCall('POST', '/lab/v1/orchestrator/faults/install_fails', { node_id: leader });
    await addJobs(lab(), 'rec-rb', 2);
    const handle = await startUpgrade(s, tq, { replica_timeout: '1m', verify_timeout: '1m' });
    await decide(handle, 'approve_upgrade', 'approve');
    return handle;
  },
  refused: async (s, tq) => {
    await freshOrchestrator(s);
    return startUpgrade(s, tq, { db_backup_at: new Date(Date.now() - 3 * 86_400_000).toISOString() });
  },
  planned: async (s, tq) => {
    await freshOrchestrator(s);
    return startUpgrade(s, tq, { run_mode: 'plan' });
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios, orchestrator: true });
