import type { DrillScenario } from '../../domain/drills';

/**
 * Seed 004's weekly drill "trigger a reclaimer run and simulate a set of stale messages
 * (make sure DLQ policy works as expected)", aimed at a drillable replica host: a process
 * there read a batch of jobs and died without XACK while their model artifact was gone.
 * The hook answers once the leader's reclaimer has taken them over (XAUTOCLAIM), retried
 * each up to the orchestrator's attempts and dead-lettered it; then it makes the
 * operator's fix (the artifact copied back from the pull cache), and the drilled run
 * must see it fixed with its own check and replay the storm.
 */
export const DLQ_REPLAY_DRILLS: readonly DrillScenario[] = [
  {
    name: 'reclaimer-stale-messages',
    summary:
      'a replica dies holding 12 unacknowledged jobs whose model artifact is missing: the reclaimer claims them after its idle time, retries and dead-letters each; the artifact restored from the pull cache, the run checks it, replays canary then batch, each job processed once',
    fault: {
      path: '/lab/v1/orchestrator/faults/stale-messages',
      body: { node_id: '{node}', count: 12, model: 'llama-3-8b', wait: true, restore_artifact: true },
      // Three reclaims 30 s apart at the lab's own pace: the hook may take minutes to answer.
      answer_within_ms: 11 * 60_000,
    },
    input: { cluster: 'lab', batch_size: 20, rate_per_second: 20, settle_timeout: '2m', poll_interval: '250ms', approval_timeout: '1m' },
    // The storm's one cause has a check of its own, so the run asks nothing; an approval would mean causes nobody checked (left to time out).
    expect: { outcome: 'replayed' },
  },
];
