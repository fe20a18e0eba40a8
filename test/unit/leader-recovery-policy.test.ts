/**
 * Leader recovery's pure parts: the replica journal as the unit prints it, the
 * page's patterns counted, the advisory key the orchestrator derives from the lock
 * name, and the rule for when a lock may be freed (never from under a live holder).
 */
import { isOrchestratorProcess, parseUnitJournal } from '../../capabilities/orchestrator/parse-unit-journal';
import { advisoryLockKey, numbered } from '../../capabilities/orchestrator/orchestrator-db';
import { LEADER_LOCK_SQL, replicaCommands } from '../../capabilities/orchestrator/commands';
import { describeFindings, journalFindings, judgeLock, type HolderProcess, type LockHolder } from '../../domain/leader-recovery';
import { advisoryKey, advisoryLockRow } from '../../lab/orchestrator/leader-lock';
import { jsonLine } from '../../lab/orchestrator/json-log';
import { formatEntry } from '../../lab/app-runtime/unit-journal';

const JOURNAL = `2026-12-03T16:47:20+0000 dev-control-1 gpu-orchestrator[4312]: {"ts":"2026-12-03T16:47:20.101Z","level":"info","logger":"gpu_orchestrator.leader","msg":"Leader elected","replica":"orchestrator-dev-control-1-4312","lock":"gpu_orchestrator_leader","lock_session_id":81,"term":1}
2026-12-03T16:47:21+0000 dev-control-1 gpu-orchestrator[4312]: {"ts":"2026-12-03T16:47:21.300Z","level":"error","logger":"gpu_orchestrator.leader","msg":"Leader DB connection lost","replica":"orchestrator-dev-control-1-4312","error":"connect ETIMEDOUT"}
2026-12-03T16:47:21+0000 dev-control-1 gpu-orchestrator[4312]: {"ts":"2026-12-03T16:47:21.301Z","level":"warning","logger":"gpu_orchestrator.leader","msg":"Leader stepping down","replica":"orchestrator-dev-control-1-4312","reason":"database unreachable"}
2026-12-03T16:47:21+0000 dev-control-1 gpu-orchestrator[4312]: {"ts":"2026-12-03T16:47:21.302Z","level":"error","logger":"gpu_orchestrator.leader","msg":"Failed to acquire leader lock","replica":"orchestrator-dev-control-1-4312","lock":"gpu_orchestrator_leader","error":"connect ETIMEDOUT"}
2026-12-03T16:47:25+0000 dev-control-1 systemd[1]: gpu-orchestrator.service: Main process exited, code=killed, status=9/KILL
2026-12-03T16:47:25+0000 dev-control-1 systemd[1]: gpu-orchestrator.service: Failed with result 'signal'.
`;

describe('the replica journal', () => {
  test('reads the JSON lines for their msg and systemd lines as they are; counts the page patterns', () => {
    const entries = parseUnitJournal(JOURNAL);
    expect(entries).toHaveLength(6);
    expect(entries[0]).toEqual({ at: '2026-12-03T16:47:20+0000', ident: 'gpu-orchestrator', pid: 4312, msg: 'Leader elected' });
    expect(entries[4]).toMatchObject({ ident: 'systemd', pid: 1, msg: 'gpu-orchestrator.service: Main process exited, code=killed, status=9/KILL' });
    const f = journalFindings('dev-control-1', entries);
    expect(f.counts).toEqual({ db_connection_lost: 1, lock_not_acquired: 1, stepped_down: 1, elected: 1, process_died: 1 });
    expect(describeFindings(f)).toBe(
      'dev-control-1: 1× Leader DB connection lost, 1× Failed to acquire leader lock, 1× Leader stepping down, 1× Leader elected, 1× Main process exited',
    );
    expect(describeFindings(journalFindings('dev-lab-1', parseUnitJournal('-- No entries --\n')))).toBe('dev-lab-1: no leader events');
  });

  test('parses what the lab journal prints for the orchestrator unit', () => {
    const line = formatEntry('short-iso', 'dev-lab-1', {
      us: Date.UTC(2026, 11, 3, 10, 0, 0) * 1000,
      unit: 'gpu-orchestrator.service',
      ident: 'gpu-orchestrator',
      pid: 77,
      message: jsonLine('error', 'leader', 'Failed to acquire leader lock', { lock: 'x' }),
    });
    expect(parseUnitJournal(line)).toEqual([{ at: '2026-12-03T10:00:00+0000', ident: 'gpu-orchestrator', pid: 77, msg: 'Failed to acquire leader lock' }]);
  });

  test('ps: only an orchestrator process under that pid counts (a reused pid running something else does not)', () => {
    expect(isOrchestratorProcess('   4312 /usr/local/bin/gpu-orchestrator --config /etc/gpu-orchestrator/orchestrator.env\n', 4312)).toBe(true);
    expect(isOrchestratorProcess('', 4312)).toBe(false);
    expect(isOrchestratorProcess('   4312 /usr/sbin/sshd -D\n', 4312)).toBe(false);
    expect(isOrchestratorProcess('  43120 /usr/local/bin/gpu-orchestrator\n', 4312)).toBe(false);
  });

  test('commands are argv, the journal read from an absolute epoch', () => {
    expect(replicaCommands.journal(1764756000.9)).toEqual([
      'journalctl',
      '-u',
      'gpu-orchestrator.service',
      '--since',
      '@1764756000',
      '-n',
      '500',
      '-o',
      'short-iso',
      '--no-pager',
    ]);
    expect(replicaCommands.process(12)).toEqual(['ps', '-o', 'pid=,args=', '-p', '12']);
  });
});

describe('the lock statements', () => {
  test.each(['gpu_orchestrator_leader', 'gpu_orchestrator_leader_4242', 'x'])('the advisory key of %s is the one the orchestrator takes', (name) => {
    const k = advisoryLockKey(name);
    expect(k.key).toBe(advisoryKey(name).toString());
    const row = advisoryLockRow(advisoryKey(name));
    expect({ classid: k.classid, objid: k.objid }).toEqual({ classid: row.classid, objid: row.objid });
  });

  test('every value is a placeholder; nothing releases a lock from this session', () => {
    for (const dialect of Object.values(LEADER_LOCK_SQL)) {
      for (const text of Object.values(dialect)) {
        expect(text).not.toMatch(/RELEASE_LOCK|pg_advisory_unlock|gpu_orchestrator_leader/i);
        expect(text).toContain('?');
      }
    }
    expect(numbered(LEADER_LOCK_SQL.postgres.holder)).toMatch(/classid = \$1 AND objid = \$2/);
    expect(LEADER_LOCK_SQL.mysql.endSession).toBe('KILL ?');
  });
});

describe('judgeLock: when a lock may be freed', () => {
  const holder = (over: Partial<LockHolder> = {}): LockHolder => ({
    backend: 'mysql',
    lock_name: 'gpu_orchestrator_leader',
    session_id: 81,
    session: { user: 'orch', client: '10.0.0.5:51234', state: 'Sleep', idle_s: 120, application_name: null, started_at: null },
    replica: {
      replica_id: 'orchestrator-dev-control-1-4312',
      node_id: 'dev-control-1',
      pid: 4312,
      is_leader: true,
      heartbeat_at: '2026-12-03T16:47:20.000Z',
      heartbeat_age_ms: 120_000,
    },
    ...over,
  });
  const gone: HolderProcess = { node_id: 'dev-control-1', pid: 4312, running: false, ps: '', unit: 'active' };

  test('a dead replica’s idle session is released', () => {
    expect(judgeLock(holder(), gone, 60)).toMatchObject({ kind: 'release', why: expect.stringMatching(/pid 4312 is gone from dev-control-1/) });
  });

  test('a holder whose process still runs is never released', () => {
    const live = { ...gone, running: true, ps: '4312 /usr/local/bin/gpu-orchestrator' };
    expect(judgeLock(holder(), live, 60).kind).toBe('live_holder');
    // Not even when its session has been idle for hours (a partitioned leader).
    expect(judgeLock(holder({ session: { ...holder().session!, idle_s: 36_000 } }), live, 60).kind).toBe('live_holder');
  });

  test.each([
    ['no replica reported the session', { replica: null }, gone, /no replica reported it/],
    ['the session is in use', { session: { ...holder().session!, state: 'Query' } }, gone, /not idle/],
    ['idle in a transaction (PostgreSQL)', { backend: 'postgres' as const, session: { ...holder().session!, state: 'idle in transaction' } }, gone, /not idle/],
    ['idle for less than the minimum', { session: { ...holder().session!, idle_s: 30 } }, gone, /idle 30 s, less than 60 s/],
    ['the process checked was another one', {}, { ...gone, pid: 9 }, /was not checked/],
    ['no process was checked', {}, null, /was not checked/],
  ])('unproven: %s', (_, over, process, why) => {
    expect(judgeLock(holder(over), process, 60)).toEqual({ kind: 'unproven', why: expect.stringMatching(why) });
  });

  test('a free lock or a session already gone needs nothing', () => {
    expect(judgeLock(holder({ session_id: null, session: null, replica: null }), null, 60).kind).toBe('free');
    expect(judgeLock(holder({ session: null }), gone, 60).kind).toBe('free');
  });
});
