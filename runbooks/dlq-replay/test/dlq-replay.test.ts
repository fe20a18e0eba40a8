/**
 * dlq-replay against a lab of its own running the GPU orchestrator on real Redis and
 * PostgreSQL: a DLQ storm from a missing model artifact is replayed once the artifact
 * is back (canary, then the batch), every job processed exactly once and removed from
 * the DLQ; with the artifact still missing the gate refuses and nothing moves; a
 * worker stopped mid-batch resumes without replaying anything twice; the group's
 * position is never moved (no XGROUP SETID in the lab's Redis record); plan mode
 * changes nothing. timeScale 0.002, elections every 150 ms.
 */
import type { Worker } from '@temporalio/worker';
import pg from 'pg';
import { replayedKey } from '../../../domain/dlq';
import { approvalSignal, statusQuery } from '../../../domain/messages';
import { ORCHESTRATOR_DLQ } from '../../../domain/orchestrator';
import type { RunReport } from '../../../domain/runbook';
import { connectStack, eventually, uniqueTaskQueue, type Stack } from '../../../test/support/harness';
import { startOrchestratorLab, type TestOrchestratorLab } from '../../../test/support/orchestrator-lab';
import { dlqReplayWorkflowId, type DlqReplayRequest } from '../input';
import { isCommand, orchestratorDriver, replaysIn, type OrchestratorDriver, type RedisCommand } from './scenarios';

const FAST = { poll_interval: '50ms', settle_timeout: '20s', rate_per_second: 20 } as const;

let stack: Stack;
let olab: TestOrchestratorLab;
let lab: OrchestratorDriver;
let db: pg.Client;

beforeAll(async () => {
  stack = await connectStack();
  olab = await startOrchestratorLab({ backend: 'postgres', suite: 'dlq_replay', timeScale: 0.002, electionMs: 150 });
  lab = orchestratorDriver({
    platformUrl: olab.lab.platformUrl,
    platformToken: olab.lab.platformToken,
    inventory: olab.lab.inventory,
    clientKeyPath: olab.lab.clientKeyPath,
  });
  db = new pg.Client({ connectionString: olab.cluster.db_url });
  await db.connect();
});
afterAll(async () => {
  await db?.end();
  await olab?.redis.del(replayedKey(ORCHESTRATOR_DLQ));
  await olab?.stop();
  await stack?.close();
});
beforeEach(async () => {
  await lab.reset();
  await olab.redis.del(replayedKey(ORCHESTRATOR_DLQ));
});

async function jobs(prefix: string): Promise<{ job_id: string; status: string; completions: number }[]> {
  const r = await db.query('SELECT job_id, status, completions FROM orchestrator_jobs WHERE job_id LIKE $1 ORDER BY job_id', [`${prefix}-%`]);
  return r.rows.map((x) => ({ job_id: String(x.job_id), status: String(x.status), completions: Number(x.completions) }));
}

/** The orchestrator's API on the first replica that answers (an operator's curl). */
async function orchestratorApi(method: string, path: string, body?: unknown): Promise<unknown> {
  for (const r of olab.cluster.replicas) {
    const res = await fetch(new URL(path, r.api_url), {
      method,
      headers: { 'content-type': 'application/json', 'idempotency-key': `test-${Date.now()}-${Math.random()}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    }).catch(() => undefined);
    if (res?.ok) return res.json();
  }
  throw new Error(`no replica answered ${method} ${path}`);
}

const dlqLength = () => olab.redis.xlen(ORCHESTRATOR_DLQ);
const dlqIds = async () => (await olab.redis.xrange(ORCHESTRATOR_DLQ, '-', '+')).map(([id]) => id);

function start(taskQueue: string, input: Partial<DlqReplayRequest> = {}) {
  return stack.client.workflow.start('dlqReplay', {
    taskQueue,
    workflowId: `${dlqReplayWorkflowId(ORCHESTRATOR_DLQ)}/${Date.now()}`,
    args: [{ ...FAST, ...input }],
  });
}

async function replay(input: Partial<DlqReplayRequest> = {}): Promise<RunReport> {
  return stack.withWorker('dlq-replay', async (tq) => (await start(tq, input)).result(), { fleet: olab.fleet });
}

/** What the runbook itself did to Redis and the orchestrator: replays, removals, maintenance changes. */
function mutations(records: RedisCommand[]) {
  return {
    replays: [...replaysIn(records).values()].reduce((a, b) => a + b, 0),
    xdel: records.filter((r) => isCommand(r, 'XDEL')).length,
    setid: records.filter((r) => isCommand(r, 'XGROUP', 'SETID')),
  };
}

test('a storm from a missing artifact, fixed: canary, then the batch; every job done once, the DLQ emptied of them', async () => {
  const removedFrom = await lab.storm('storm', 8);
  const before = await dlqIds();
  await lab.restoreArtifact(removedFrom);

  const report = await replay({ batch_size: 20 });
  expect(report.outcome).toBe('replayed');
  expect(report.steps.map((s) => s.name)).toEqual([
    'read_maintenance_mode',
    'sample_dlq',
    'read_pools',
    'check_model_artifacts',
    'pause_processing',
    'select_entries',
    'replay_canary',
    'resume_processing',
    'observe_canary',
    'remove_canary_from_dlq',
    'replay_batch',
    'read_dlq_after',
  ]);
  expect(report.summary).toMatch(/canary and 7 of 7 processed and removed; 0 dead-lettered again, 0 unsettled; 0 left/);

  const done = await jobs('storm');
  expect(done).toHaveLength(8);
  expect(done.every((j) => j.status === 'done' && j.completions === 1)).toBe(true);
  expect(await dlqLength()).toBe(0);
  const records = await lab.records();
  const replays = replaysIn(records);
  expect([...replays.keys()].sort()).toEqual([...before].sort());
  expect([...replays.values()].every((n) => n === 1)).toBe(true);
  // Each DLQ entry removed only after its replay: XDELs name exactly the replayed entries.
  const removed = records.filter((r) => isCommand(r, 'XDEL')).map((r) => r.args[2]);
  expect(removed.sort()).toEqual([...before].sort());
  expect(mutations(records).setid).toEqual([]);
  expect(await lab.gauge('gpu_orchestrator_maintenance_mode')).toBe(0);
});

test('the cause not fixed: the gate refuses, nothing replayed, nothing removed, processing never paused', async () => {
  await lab.storm('unfixed', 4);
  const before = await dlqIds();

  const report = await replay();
  expect(report.outcome).toBe('root_cause_not_fixed');
  expect(report.summary).toMatch(/model_artifact_missing: still missing: \/var\/lib\/gpu-orchestrator\/models\/llama-3-8b\/model\.safetensors on dev-gpu-\d/);
  expect(report.steps.map((s) => s.name)).not.toContain('pause_processing');
  expect(await dlqIds()).toEqual(before);
  const m = mutations(await lab.records());
  expect(m).toEqual({ replays: 0, xdel: 0, setid: [] });
  expect((await jobs('unfixed')).every((j) => j.status === 'dead_letter' && j.completions === 0)).toBe(true);
});

test('a worker stopped mid-batch: the next one resumes, and no entry is replayed twice', async () => {
  const removedFrom = await lab.storm('crash', 12);
  const before = await dlqIds();
  await lab.restoreArtifact(removedFrom);

  const taskQueue = uniqueTaskQueue('dlq-replay-crash');
  const first: Worker = await stack.worker(taskQueue, { fleet: olab.fleet, shutdownGraceMs: 100 });
  const firstRun = first.run();
  const handle = await start(taskQueue, { batch_size: 20, rate_per_second: 4 });
  // The canary and a few of the batch are in the main stream: the worker goes away.
  await eventually(async () => (replaysIn(await lab.records()).size >= 4 ? true : undefined), 'the batch under way', 30_000, 20);
  first.shutdown();
  await firstRun;
  const replayedBeforeCrash = replaysIn(await lab.records()).size;
  expect(replayedBeforeCrash).toBeLessThan(12);

  const second = await stack.worker(taskQueue, { fleet: olab.fleet });
  const report = await second.runUntil(handle.result());
  expect(report.outcome).toBe('replayed');
  // The batch activity really was cut off and run again on the second worker.
  const history = await handle.fetchHistory();
  const batchScheduled = history.events!.find((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'replayBatch')!;
  const batchStarted = history.events!.find((e) => Number(e.activityTaskStartedEventAttributes?.scheduledEventId) === Number(batchScheduled.eventId));
  expect(batchStarted?.activityTaskStartedEventAttributes?.attempt).toBeGreaterThan(1);

  const replays = replaysIn(await lab.records());
  expect([...replays.keys()].sort()).toEqual([...before].sort());
  expect([...replays.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  const done = await jobs('crash');
  expect(done).toHaveLength(12);
  expect(done.filter((j) => j.status !== 'done' || j.completions !== 1)).toEqual([]);
  expect(await dlqLength()).toBe(0);
  expect(mutations(await lab.records()).setid).toEqual([]);

  // A rerun after it finds nothing to replay and replays nothing again.
  const rerun = await replay();
  expect(rerun.outcome).toBe('nothing_to_replay');
  expect(replaysIn(await lab.records()).size).toBe(12);
});

test('a run terminated mid-batch and run again: what it had replayed is watched, not replayed again', async () => {
  const removedFrom = await lab.storm('rerun', 10);
  const before = await dlqIds();
  await lab.restoreArtifact(removedFrom);

  const report = await stack.withWorker(
    'dlq-replay-rerun',
    async (tq) => {
      const handle = await start(tq, { batch_size: 20, rate_per_second: 4 });
      await eventually(async () => (replaysIn(await lab.records()).size >= 3 ? true : undefined), 'the batch under way', 30_000, 20);
      // Someone drains the orchestrator: the replays added from now on wait, unprocessed, in the stream.
      await orchestratorApi('POST', '/control/maintenance', { mode: 'drain' });
      const seen = replaysIn(await lab.records()).size;
      await eventually(async () => (replaysIn(await lab.records()).size >= seen + 2 ? true : undefined), 'replays while drained', 30_000, 20);
      await handle.terminate('test: the run dies mid-batch');
      // Replayed and still in the DLQ: exactly the entries a careless rerun would add twice.
      const recorded = await olab.redis.hkeys(replayedKey(ORCHESTRATOR_DLQ));
      const inDlq = new Set(await dlqIds());
      expect(recorded.filter((id) => inDlq.has(id)).length).toBeGreaterThan(0);
      await orchestratorApi('POST', '/control/maintenance', { mode: 'normal' });
      return (await start(tq, { batch_size: 20 })).result();
    },
    { fleet: olab.fleet },
  );
  expect(report.outcome).toBe('replayed');
  const replays = replaysIn(await lab.records());
  expect([...replays.keys()].sort()).toEqual([...before].sort());
  expect([...replays.entries()].filter(([, n]) => n !== 1)).toEqual([]);
  expect((await jobs('rerun')).filter((j) => j.status !== 'done' || j.completions !== 1)).toEqual([]);
  expect(await dlqLength()).toBe(0);
});

test('the batch stops at the error threshold: entries dead-lettered again stay in the DLQ, none replayed twice', async () => {
  const removedFrom = await lab.storm('threshold', 10);
  await lab.restoreArtifact(removedFrom);
  // The check and the canary pass; then the artifact goes again, as it would with a flapping mount.
  const handle = await stack.withWorker(
    'dlq-replay-threshold',
    async (tq) => {
      const h = await start(tq, { batch_size: 20, rate_per_second: 5, error_threshold: 2 });
      await eventually(async () => ((await h.query(statusQuery)).steps.some((s) => s.name === 'replay_batch') ? true : undefined), 'the batch');
      await lab.fault('missing_model_artifact', { model: 'llama-3-8b' });
      return h.result();
    },
    { fleet: olab.fleet },
  );
  expect(handle.outcome).toBe('stopped_at_error_threshold');
  const replays = replaysIn(await lab.records());
  expect([...replays.values()].every((n) => n === 1)).toBe(true);
  expect(replays.size).toBeLessThan(10);
  // Every entry not seen processed is still in the DLQ (with its newer dead letter beside it for the failed ones).
  const done = new Set((await jobs('threshold')).filter((j) => j.status === 'done').map((j) => j.job_id));
  const left = (await olab.redis.xrange(ORCHESTRATOR_DLQ, '-', '+')).map(([, f]) => f[f.indexOf('job_id') + 1]!);
  for (let i = 1; i <= 10; i++) {
    const id = `threshold-${i}`;
    expect({ id, accounted: done.has(id) || left.includes(id) }).toEqual({ id, accounted: true });
  }
  expect((await jobs('threshold')).every((j) => j.completions <= 1)).toBe(true);
});

test('a cause no check covers asks a person, who sees the sample; approved with the cause still there, the canary fails again and nothing else moves', async () => {
  // Dead letters of a cause the runbook has no check for (written as the orchestrator writes them), while the artifact is gone.
  await lab.waitLeader();
  const removedFrom = (await lab.fault('missing_model_artifact', { model: 'llama-3-8b' })).removed_from as string[];
  expect(removedFrom.length).toBeGreaterThan(0);
  for (let i = 1; i <= 3; i++) {
    await olab.redis.xadd(
      ORCHESTRATOR_DLQ,
      '*',
      'job_id',
      `gated-${i}`,
      'source_id',
      `0-${i}`,
      'model',
      'llama-3-8b',
      'cause',
      'upstream_timeout',
      'attempts',
      '3',
    );
  }
  const before = await dlqIds();

  const report = await stack.withWorker(
    'dlq-replay-gated',
    async (tq) => {
      const handle = await start(tq);
      const pending = await eventually(async () => (await handle.query(statusQuery)).pending_approval ?? undefined, 'the approval request');
      expect(pending).toMatchObject({ step: 'approve_replay', kind: 'generic' });
      expect(pending.question).toContain('upstream_timeout');
      const shown = pending.context as { causes: { cause: string; count: number }[]; sample: { id: string }[] };
      expect(shown.causes).toEqual([expect.objectContaining({ cause: 'upstream_timeout', count: 3 })]);
      expect(shown.sample.map((e) => e.id)).toEqual(before);
      await handle.signal(approvalSignal, { decision: 'approve', actor: 'sre-oncall', reason: 'upstream fixed', approval_id: pending.id });
      return handle.result();
    },
    { fleet: olab.fleet },
  );
  expect(report.outcome).toBe('root_cause_not_fixed');
  expect(report.summary).toMatch(/the canary \S+ \(replayed as \S+\) was dead-lettered again/);
  const replays = replaysIn(await lab.records());
  expect([...replays.keys()]).toEqual([before[0]]);
  // The three originals stay, and the canary's new dead letter joins them.
  const after = await dlqIds();
  expect(after.slice(0, 3)).toEqual(before);
  expect(after).toHaveLength(4);
  expect(await lab.gauge('gpu_orchestrator_maintenance_mode')).toBe(0);
});

test('plan mode reads the sample and checks the cause, and changes nothing', async () => {
  const removedFrom = await lab.storm('plan', 3);
  await lab.restoreArtifact(removedFrom);
  const before = await dlqIds();

  const report = await replay({ run_mode: 'plan' });
  expect(report.outcome).toBe('planned');
  // Reads only: the maintenance mode is never set (the API call is the procedure's first step).
  expect(report.steps.map((s) => s.name)).toEqual(['read_maintenance_mode', 'sample_dlq', 'read_pools', 'check_model_artifacts', 'record_plan']);
  expect(report.plan?.lines.join('\n')).toMatch(/pause_processing: POST \/control\/maintenance \{"mode":"drain"\}/);
  expect(report.plan?.lines.join('\n')).toMatch(/replay_canary: redis EVAL replay-once/);
  const records = await lab.records();
  expect(mutations(records)).toEqual({ replays: 0, xdel: 0, setid: [] });
  expect(records.filter((r) => isCommand(r, 'EVAL') || isCommand(r, 'HSET'))).toEqual([]);
  expect(await dlqIds()).toEqual(before);
  expect(await lab.gauge('gpu_orchestrator_maintenance_mode')).toBe(0);
});
