/**
 * Records leader-recovery's histories for the replay tests:
 * `npx tsx runbooks/leader-recovery/test/record-histories.ts [scenario...]`.
 * The recording stack runs the lab's orchestrator on its MariaDB (elections every 2 s).
 */
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { approvalUpdate, statusQuery } from '../../../domain/messages';
import { MEMO_REQUESTED_BY, type RunStatus } from '../../../domain/runbook';
import { eventually, type Stack } from '../../../test/support/harness';
import { runRecording, type Scenario } from '../../../test/support/record-histories';
import { testEnv } from '../../../test/support/test-env';
import { leaderRecoveryWorkflowId, type LeaderRecoveryRequest } from '../input';

/** The released version being recorded. */
const VERSION = 'v1';
const CLUSTER = 'lab';
/** Waits fitted to the recording lab's 2 s election rounds. */
const WAITS = { election_grace: '8s', takeover_timeout: '15s', min_idle: '2s', lookback: '10m', approval_timeout: '5m', poll_interval: '250ms' } as const;

interface LeaderStatus {
  leader: { replica_id: string } | null;
  lock: { holder_session_id: number | null };
}

async function labCall(method: string, route: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await fetch(new URL(route, testEnv('platformUrl')), {
    method,
    headers: { authorization: `Bearer ${testEnv('platformToken')}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await res.json()) as Record<string, unknown>;
  if (!res.ok) throw new Error(`${method} ${route} → ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

/** GET /status/leader from the first replica that answers. */
async function leaderStatus(): Promise<LeaderStatus | undefined> {
  const state = (await labCall('GET', '/lab/v1/orchestrator/state')) as { replicas: { url: string | null }[] };
  for (const r of state.replicas) {
    if (!r.url) continue;
    const res = await fetch(`${r.url}/status/leader`).catch(() => undefined);
    if (res?.ok) return (await res.json()) as LeaderStatus;
  }
  return undefined;
}

const waitLeader = () => eventually(async () => ((await leaderStatus())?.leader ? true : undefined), 'a leader', 60_000, 200);

/** A fault on the leader, then what the alert sees: nobody leads and the fault's session holds the lock. */
async function leaderless(s: Stack, fault: 'stale_lock' | 'partitioned_leader'): Promise<void> {
  await s.lab.reset();
  await waitLeader();
  const applied = (await labCall('POST', `/lab/v1/orchestrator/faults/${fault}`, {})).applied as { lock_session_id: number };
  await eventually(
    async () => {
      const st = await leaderStatus();
      return st && st.leader === null && st.lock.holder_session_id === applied.lock_session_id ? true : undefined;
    },
    'no leader, the lock held',
    60_000,
    200,
  );
}

function start(s: Stack, tq: string, scenario: string, extra: Partial<LeaderRecoveryRequest> = {}, requestedBy?: string): Promise<WorkflowHandle> {
  return s.client.workflow.start('leaderRecovery', {
    taskQueue: tq,
    workflowId: `${leaderRecoveryWorkflowId(CLUSTER)}/${scenario}`,
    args: [{ cluster: CLUSTER, ...WAITS, ...extra }],
    ...(requestedBy ? { memo: { [MEMO_REQUESTED_BY]: requestedBy } } : {}),
  });
}

async function lockFreed(s: Stack, tq: string): Promise<WorkflowHandle> {
  await leaderless(s, 'stale_lock');
  const handle = await start(s, tq, 'lock-freed', {}, 'alice');
  const pending = await eventually(
    async () => {
      const st: RunStatus = await handle.query(statusQuery);
      return st.pending_approval?.step === 'approve_lock_release' ? st.pending_approval : undefined;
    },
    'the lock release approval',
    120_000,
    200,
  );
  for (const actor of ['sre-oncall', 'sre-second']) {
    await handle.executeUpdate(approvalUpdate, { args: [{ decision: 'approve', actor, reason: 'the old leader is gone', approval_id: pending.id }] });
  }
  return handle;
}

const scenarios: Record<string, Scenario> = {
  healthy: async (s, tq) => {
    await s.lab.reset();
    await waitLeader();
    return start(s, tq, 'healthy');
  },
  'lock-freed': (s, tq) => lockFreed(s, tq),
  'live-leader-escalated': async (s, tq) => {
    await leaderless(s, 'partitioned_leader');
    return start(s, tq, 'live-leader-escalated');
  },
  planned: async (s, tq) => {
    await leaderless(s, 'stale_lock');
    return start(s, tq, 'planned', { run_mode: 'plan' });
  },
};

runRecording({ out: path.join(__dirname, '..', 'histories'), version: VERSION, scenarios, orchestrator: true });
