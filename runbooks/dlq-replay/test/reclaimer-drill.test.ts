/**
 * Seed 004's drill item 3, "trigger a reclaimer run and simulate a set of stale
 * messages (make sure DLQ policy works as expected)", against a lab of its own on
 * real Redis and MariaDB: the lab's DLQ policy itself (a dead consumer's pending
 * entries reclaimed with XAUTOCLAIM, retried up to the attempts, dead-lettered once
 * each with their cause), then the drill `reclaimer-stale-messages` through the
 * runbookDrill workflow: the storm replayed once each and processed, read from the
 * lab's SQL and Redis record rather than from the run's own report.
 * timeScale 0.002 (XAUTOCLAIM's idle time 60 ms), elections every 150 ms.
 */
import mysql from 'mysql2/promise';
import { replayedKey } from '../../../domain/dlq';
import { drillInputFor, runDrill } from '../../../test/support/drills';
import { ORCHESTRATOR_DLQ, ORCHESTRATOR_GROUP, ORCHESTRATOR_STREAM } from '../../../domain/orchestrator';
import type { RunReport } from '../../../domain/runbook';
import { orchestratorSuite } from '../../../test/support/orchestrator-suite';
import { dlqReplayRunbook } from '../definition';
import { ARTIFACT, isCommand, orchestratorDriver, replaysIn, type RedisCommand } from './scenarios';

const DRILL_NODE = 'dev-control-1';

const suite = orchestratorSuite({ backend: 'mysql', suite: 'dlq_drill', timeScale: 0.002, electionMs: 150, queueName: 'dlq-drill', waitForLeader: true });
let db: mysql.Pool;

interface JobRow {
  job_id: string;
  status: string;
  attempts: number;
  completions: number;
  cause: string | null;
}

interface StaleApplied {
  consumer: string;
  consumer_node: string;
  job_ids: string[];
  stream_ids: string[];
  removed_from: string[];
  min_idle_ms: number;
  max_attempts: number;
  dead_lettered: { job_id: string; dlq_id: string; cause: string; attempts: number }[];
}

beforeAll(() => {
  db = mysql.createPool({ uri: suite.orch.cluster.db_url, connectionLimit: 2 });
});

suite.beforeTeardown(async () => {
  await db?.end();
  await suite.orch.redis.del(replayedKey(ORCHESTRATOR_DLQ));
});

beforeEach(async () => {
  await suite.orch.redis.del(replayedKey(ORCHESTRATOR_DLQ));
});

async function jobRows(ids: string[]): Promise<JobRow[]> {
  const [rows] = await db.query('SELECT job_id, status, attempts, completions, cause FROM orchestrator_jobs WHERE job_id IN (?) ORDER BY job_id', [ids]);
  return (rows as Record<string, unknown>[]).map((r) => ({
    job_id: String(r.job_id),
    status: String(r.status),
    attempts: Number(r.attempts),
    completions: Number(r.completions),
    cause: (r.cause as string | null) ?? null,
  }));
}

const records = (): Promise<RedisCommand[]> =>
  orchestratorDriver({
    platformUrl: suite.orch.lab.platformUrl,
    platformToken: suite.orch.lab.platformToken,
    inventory: suite.orch.lab.inventory,
    clientKeyPath: suite.orch.lab.clientKeyPath,
  }).records();
const fieldsOf = (flat: string[]): Record<string, string> => Object.fromEntries(flat.flatMap((v, i) => (i % 2 ? [] : [[v, flat[i + 1]!]])));
/** A command on a key (names are case-insensitive, keys are not). */
const on = (r: RedisCommand, command: string, key: string, ...rest: string[]) =>
  isCommand(r, command) && r.args[1] === key && rest.every((w, i) => r.args[i + 2] === w);
const dlqEntries = async (): Promise<Record<string, string>[]> =>
  (await suite.orch.redis.xrange(ORCHESTRATOR_DLQ, '-', '+')).map(([id, flat]) => ({ ...fieldsOf(flat), id }));

test("the lab's DLQ policy: a dead consumer's stale messages reclaimed, retried up to the attempts, dead-lettered once each with their cause", async () => {
  const applied = (await suite.orch.fault('stale_messages', { node_id: DRILL_NODE, count: 12 })) as unknown as StaleApplied;
  expect(applied).toMatchObject({ consumer_node: DRILL_NODE, max_attempts: 3, min_idle_ms: 60 });
  expect(applied.job_ids).toHaveLength(12);
  expect(applied.removed_from.length).toBeGreaterThan(0);
  const byStreamId = new Map(applied.stream_ids.map((id, i) => [id, applied.job_ids[i]!]));

  // The dead consumer: read the 12 in its one transaction, its connection named as its process, and never acknowledged or claimed anything.
  const record = await records();
  const dead = record.filter((r) => r.client_name === `gpu-orchestrator:${applied.consumer}`);
  const read = dead.filter((r) => isCommand(r, 'XREADGROUP'));
  expect(read).toHaveLength(1);
  expect(read[0]!.args.slice(1)).toEqual(['GROUP', ORCHESTRATOR_GROUP, applied.consumer, 'COUNT', '12', 'STREAMS', ORCHESTRATOR_STREAM, '>']);
  expect(dead.filter((r) => isCommand(r, 'XACK') || isCommand(r, 'XAUTOCLAIM') || isCommand(r, 'XCLAIM'))).toEqual([]);
  const consumers = (await suite.orch.redis.call('XINFO', 'CONSUMERS', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)) as unknown[][];
  const deadInfo = consumers.map((c) => fieldsOf(c.map(String))).find((c) => c.name === applied.consumer);
  // Still a member of the group (nobody deleted it), owning nothing any more: everything was taken from it.
  expect(deadInfo).toMatchObject({ pending: '0' });

  // The leader's reclaimer: XAUTOCLAIM after the min-idle time, from a live replica's connection, once per retry round at least.
  const claims = record.filter((r) => on(r, 'XAUTOCLAIM', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP));
  expect(claims.length).toBeGreaterThanOrEqual(applied.max_attempts);
  expect(new Set(claims.map((c) => c.args[4]))).toEqual(new Set(['60']));
  expect(claims.every((c) => c.client_name?.startsWith('gpu-orchestrator:orchestrator-') && c.args[3] !== applied.consumer)).toBe(true);

  // The policy: three attempts each, none done, every one dead-lettered with its cause.
  const rows = await jobRows(applied.job_ids);
  expect(rows).toHaveLength(12);
  expect(rows.filter((j) => j.status !== 'dead_letter' || j.attempts !== 3 || j.completions !== 0 || j.cause !== 'model_artifact_missing')).toEqual([]);
  const state = await suite.orch.state();
  expect(state.counters).toMatchObject({ processed: 0, retries: 12 * 2, deadLettered: 12 });

  // Once each in the DLQ, naming the stale entry it came from, with the cause and the error an operator reads.
  const dlq = await dlqEntries();
  expect(dlq.map((e) => e.job_id).sort()).toEqual([...applied.job_ids].sort());
  for (const e of dlq) {
    expect(e).toMatchObject({ cause: 'model_artifact_missing', attempts: '3', model: 'llama-3-8b' });
    expect(byStreamId.get(e.source_id!)).toBe(e.job_id);
    expect(e.error).toContain(ARTIFACT);
  }
  expect(applied.dead_lettered.map((d) => d.dlq_id).sort()).toEqual(dlq.map((e) => e.id).sort());

  // Acknowledged once each, after the dead letter (never as done), and nothing left pending.
  const acks = record.filter((r) => on(r, 'XACK', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP)).map((r) => r.args[3]!);
  expect(acks.filter((id) => byStreamId.has(id)).sort()).toEqual([...applied.stream_ids].sort());
  const pending = (await suite.orch.redis.call('XPENDING', ORCHESTRATOR_STREAM, ORCHESTRATOR_GROUP, '-', '+', '100')) as [string][];
  expect(pending.filter(([id]) => byStreamId.has(id))).toEqual([]);
  expect(record.filter((r) => isCommand(r, 'XGROUP', 'SETID'))).toEqual([]);
});

test('drill reclaimer-stale-messages: the storm the reclaimer dead-lettered is replayed once each and processed, the DLQ emptied, the drill passes', async () => {
  const report = await runDrill(suite.stack.client, suite.taskQueue, drillInputFor(dlqReplayRunbook, dlqReplayRunbook.drills![0]!, DRILL_NODE));

  expect(report).toMatchObject({ passed: true, outcome: 'replayed', expected: 'replayed', scenario: 'reclaimer-stale-messages' });
  const run = report.run as RunReport;
  // The run's own gate saw the fix the scenario made (the artifact back from the pull cache), over SSH.
  const check = run.steps.find((s) => s.name === 'check_model_artifacts');
  expect(check?.detail).toMatch(/llama-3-8b on dev-gpu-\d: \d+ bytes/);
  expect(run.steps.map((s) => s.name)).not.toContain('approve_replay');

  // What the lab holds, not what the run says: the stale jobs from SQL, each dead-lettered by the reclaimer and then done once.
  const record = await records();
  const deadLetters = record.filter((r) => on(r, 'XADD', ORCHESTRATOR_DLQ));
  const staleJobs = deadLetters.map((r) => fieldsOf(r.args.slice(3)).job_id!);
  expect(staleJobs).toHaveLength(12);
  expect(new Set(staleJobs).size).toBe(12);
  const rows = await jobRows(staleJobs);
  expect(rows).toHaveLength(12);
  expect(rows.filter((j) => j.status !== 'done' || j.completions !== 1)).toEqual([]);

  // Every dead letter replayed exactly once (the replay names its DLQ entry), each replay carrying its own job.
  const replays = replaysIn(record);
  const replayedJobs = record.filter((r) => on(r, 'XADD', ORCHESTRATOR_STREAM) && r.args.includes('replay_of')).map((r) => fieldsOf(r.args.slice(3)).job_id!);
  expect(replays.size).toBe(12);
  expect([...replays.values()].every((n) => n === 1)).toBe(true);
  expect(replayedJobs.sort()).toEqual([...staleJobs].sort());
  // Removed from the DLQ (XDEL) only as each was processed: none of them is left.
  expect((await dlqEntries()).filter((e) => staleJobs.includes(e.job_id!))).toEqual([]);
  expect(
    record
      .filter((r) => on(r, 'XDEL', ORCHESTRATOR_DLQ))
      .map((r) => r.args[2])
      .sort(),
  ).toEqual([...replays.keys()].sort());
  expect(record.filter((r) => isCommand(r, 'XGROUP', 'SETID'))).toEqual([]);
  expect((await suite.orch.state()).counters).toMatchObject({ processed: 12, deadLettered: 12 });
});

test("the same scenario without the operator's fix: dlq-replay's own gate refuses, nothing is replayed, and the drill fails", async () => {
  const shipped = dlqReplayRunbook.drills![0]!;
  const unfixed = { ...shipped, fault: { ...shipped.fault!, body: { ...shipped.fault!.body, restore_artifact: false } } };
  const report = await runDrill(
    suite.stack.client,
    suite.taskQueue,
    drillInputFor(dlqReplayRunbook, unfixed, DRILL_NODE, { drillId: `test-reclaimer-unfixed-${Date.now()}` }),
  );

  expect(report).toMatchObject({ passed: false, outcome: 'root_cause_not_fixed', expected: 'replayed', time_to_recover_ms: null });
  expect((await dlqEntries()).filter((e) => e.cause === 'model_artifact_missing')).toHaveLength(12);
  expect(replaysIn(await records()).size).toBe(0);
});

test('an injection repeated with the same Idempotency-Key (a retried drill activity) strands one batch, not two', async () => {
  const inject = () =>
    fetch(new URL('/lab/v1/orchestrator/faults/stale-messages', suite.orch.lab.platformUrl), {
      method: 'POST',
      headers: { authorization: `Bearer ${suite.orch.lab.platformToken}`, 'content-type': 'application/json', 'idempotency-key': 'drill/x/run/inject' },
      body: JSON.stringify({ count: 3, wait: false }),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as { applied: StaleApplied } }));
  const [first, second] = await Promise.all([inject(), inject()]);
  expect([first.status, second.status]).toEqual([200, 200]);
  expect(second.body.applied.job_ids).toEqual(first.body.applied.job_ids);
  const reads = (await records()).filter((r) => isCommand(r, 'XREADGROUP') && r.client_name === `gpu-orchestrator:${first.body.applied.consumer}`);
  expect(reads).toHaveLength(1);
  expect(await suite.orch.redis.xlen(ORCHESTRATOR_STREAM)).toBe(3);
});
