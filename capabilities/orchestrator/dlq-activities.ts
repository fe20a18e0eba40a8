import { Context, heartbeat, sleep } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { causeOf, groupByCause, replayFields, thresholdCrossed, type CauseGroup, type ReplayState, type StreamEntry } from '../../domain/dlq';
import { ErrorType } from '../../domain/errors';
import { ORCHESTRATOR_GROUP, type OrchestratorCluster } from '../../domain/orchestrator';
import type { StepContext } from '../../domain/step-context';
import { abortError, activityCancellationSignal } from '../cancellation';
import { stepLogger } from '../observability';
import { clusterNamed } from './orchestrator-activities';
import { DlqStream, type ReplayResult } from './dlq-stream';

/** What the runbook's clients are called in CLIENT LIST (and the lab's Redis record). */
export const DLQ_REPLAY_CLIENT = 'gpuaas-runbooks-dlq-replay';

export interface DlqSample {
  dlq: string;
  length: number;
  entries: StreamEntry[];
  causes: CauseGroup[];
  /** Sampled entries the dedupe record says were replayed already (by an earlier run). */
  already_replayed: number;
}

export interface ReplaySelection {
  /** DLQ entry ids to replay, oldest first: not replayed yet, or replayed and not yet seen to fail. */
  ids: string[];
  /** Entries replayed before whose replay was dead-lettered again: the newer dead letter stands for the job now. */
  superseded: string[];
  /** Entries of causes this run did not clear. */
  other_causes: number;
}

export interface ReplayWait {
  state: ReplayState;
  waited_ms: number;
}

export interface BatchOptions {
  rate_per_second: number;
  error_threshold: number;
  /** How long replays may sit without any of them settling before the batch stops waiting. */
  settle_timeout_ms: number;
  poll_ms: number;
}

export interface BatchResult {
  /** Entries handed to the main stream (by this run's attempts or, for a rerun, before). */
  replayed: number;
  /** Processed, and so removed from the DLQ. */
  processed: string[];
  /** Dead-lettered again: left in the DLQ. */
  dead_lettered: string[];
  /** Replayed but neither processed nor dead-lettered within the settle timeout: left in the DLQ. */
  unsettled: string[];
  /** Gone from the DLQ before their turn (someone removed them): not replayed. */
  not_in_dlq: string[];
  /** Not replayed because the error threshold was crossed. */
  not_started: number;
  stopped_at_threshold: boolean;
}

/** The batch's checkpoint in its heartbeat: a retried attempt picks up here. */
interface BatchProgress {
  next: number;
  settled: Record<string, 'processed' | 'dead_lettered'>;
  not_in_dlq: string[];
}

/** Replays at most this many entries a run; the rest is another run's. */
const SCAN_LIMIT = 10_000;

/**
 * The DLQ replay (seed 004 "Recover from DLQ storm") over Redis. Every replay goes
 * through one Lua script that adds the entry to the main stream with
 * `replay_of=<DLQ id>` and records it in the dedupe hash together, or does nothing
 * if it was replayed before: a retried activity, a second worker or a rerun never
 * adds an entry twice. An entry leaves the DLQ (XDEL) only once its replay was seen processed.
 */
export function createDlqActivities(deps: { clusters: readonly OrchestratorCluster[]; logger: Logger }) {
  const clients = new Map<string, Redis>();
  const streamOf = (cluster: string | undefined, dlq: string): DlqStream => {
    const c = clusterNamed(deps.clusters, cluster);
    let redis = clients.get(c.redis_url);
    if (!redis) {
      redis = new Redis(c.redis_url, { connectionName: DLQ_REPLAY_CLIENT, maxRetriesPerRequest: 2, lazyConnect: true });
      // Errors surface on the commands (and so as the activity's retryable failure), not as unhandled events.
      redis.on('error', () => undefined);
      clients.set(c.redis_url, redis);
    }
    try {
      return new DlqStream(redis, dlq, ORCHESTRATOR_GROUP);
    } catch (err) {
      throw ApplicationFailure.create({ type: ErrorType.InvalidInput, message: (err as Error).message, nonRetryable: true });
    }
  };

  /** A missing group is the cluster's state, not a blip: not retried. */
  const typed = async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof RangeError) throw ApplicationFailure.create({ type: ErrorType.NotFound, message: `${what}: ${err.message}`, nonRetryable: true });
      throw err;
    }
  };

  const pause = async (ms: number, what: string): Promise<void> => {
    try {
      await sleep(Math.max(1, ms));
    } catch (err) {
      const signal = activityCancellationSignal();
      if (signal?.aborted) throw abortError(signal, what);
      throw err;
    }
  };

  async function replayOne(s: DlqStream, id: string): Promise<ReplayResult> {
    const [known] = await s.replaysOf([id]);
    if (known) return { result: 'replayed_before', replay_id: known };
    const entry = await s.entry(id);
    if (!entry) return { result: 'not_in_dlq', replay_id: null };
    return s.replayOnce(id, replayFields(entry));
  }

  return {
    async readDlqSample(_ctx: StepContext, cluster: string | undefined, dlq: string, count: number): Promise<DlqSample> {
      const s = streamOf(cluster, dlq);
      const [length, entries] = await Promise.all([s.length(), s.range(count)]);
      const replays = await s.replaysOf(entries.map((e) => e.id));
      return { dlq, length, entries, causes: groupByCause(entries), already_replayed: replays.filter(Boolean).length };
    },

    /**
     * The entries of `causes` to replay, oldest first, at most `limit`. One replayed
     * before and dead-lettered again is left out: its job has a newer dead letter,
     * which is the one to replay.
     */
    async selectReplay(_ctx: StepContext, cluster: string | undefined, dlq: string, limit: number, causes: string[]): Promise<ReplaySelection> {
      const s = streamOf(cluster, dlq);
      return typed(`selecting from ${dlq}`, async () => {
        const out: ReplaySelection = { ids: [], superseded: [], other_causes: 0 };
        let after: string | undefined;
        for (let scanned = 0; out.ids.length < limit && scanned < SCAN_LIMIT;) {
          const page = await s.range(500, after);
          if (page.length === 0) break;
          scanned += page.length;
          after = page[page.length - 1]!.id;
          const wanted = page.filter((e) => causes.includes(causeOf(e)));
          out.other_causes += page.length - wanted.length;
          const replays = await s.replaysOf(wanted.map((e) => e.id));
          const states = await s.states(replays.filter((r): r is string => r !== null));
          for (const [i, e] of wanted.entries()) {
            const replay = replays[i];
            if (replay && states.get(replay) === 'dead_lettered') out.superseded.push(e.id);
            else if (out.ids.length < limit) out.ids.push(e.id);
          }
        }
        return out;
      });
    },

    /** Replays one entry (the canary) at most once, ever. */
    async replayEntry(ctx: StepContext, cluster: string | undefined, dlq: string, id: string): Promise<ReplayResult> {
      const s = streamOf(cluster, dlq);
      const r = await replayOne(s, id);
      stepLogger(deps.logger, ctx).info({ dlq, dlq_id: id, ...r }, 'DLQ entry replayed');
      return r;
    },

    /** Waits until the replay is processed or dead-lettered again, or the timeout passes (then its state as it stands). */
    async waitForReplay(_ctx: StepContext, cluster: string | undefined, dlq: string, replayId: string, timeoutMs: number, pollMs: number): Promise<ReplayWait> {
      const s = streamOf(cluster, dlq);
      const started = Date.now();
      for (;;) {
        const state = (await typed(`reading ${s.main}`, () => s.states([replayId]))).get(replayId)!;
        const waited = Date.now() - started;
        heartbeat({ state, waited_ms: waited });
        if (state === 'processed' || state === 'dead_lettered' || waited >= timeoutMs) return { state, waited_ms: waited };
        await pause(Math.min(pollMs, timeoutMs - waited), 'waiting for the replay');
      }
    },

    /** XDEL of a DLQ entry, only if the dedupe record has its replay and that replay was processed. */
    async removeReplayed(ctx: StepContext, cluster: string | undefined, dlq: string, id: string): Promise<{ removed: boolean; state: ReplayState | null }> {
      const s = streamOf(cluster, dlq);
      const [replay] = await s.replaysOf([id]);
      if (!replay) return { removed: false, state: null };
      const state = (await typed(`reading ${s.main}`, () => s.states([replay]))).get(replay)!;
      if (state !== 'processed') return { removed: false, state };
      const n = await s.remove(id);
      stepLogger(deps.logger, ctx).info({ dlq, dlq_id: id, replay_id: replay, removed: n }, 'replayed DLQ entry removed');
      return { removed: true, state };
    },

    /**
     * The batch: replays `ids` at `rate_per_second`, watches every replay, removes each
     * processed one from the DLQ, and stops replaying once `error_threshold` replays
     * were dead-lettered again. Heartbeats its progress; a retried attempt resumes from
     * it, and the dedupe record covers what the heartbeat did not (a crash between a
     * replay and the next heartbeat finds the replay, never adds a second one).
     */
    async replayBatch(ctx: StepContext, cluster: string | undefined, dlq: string, ids: string[], o: BatchOptions): Promise<BatchResult> {
      const s = streamOf(cluster, dlq);
      const log = stepLogger(deps.logger, ctx);
      const saved = Context.current().info.heartbeatDetails as BatchProgress | undefined;
      const progress: BatchProgress = saved ?? { next: 0, settled: {}, not_in_dlq: [] };
      const inflight = new Map<string, string>();
      const track = (id: string, r: ReplayResult) => {
        if (r.replay_id === null) progress.not_in_dlq.push(id);
        else inflight.set(id, r.replay_id);
      };
      if (saved) {
        // What the last attempt replayed and had not seen settle: looked up again, never added again.
        for (const id of ids.slice(0, progress.next)) {
          if (!progress.settled[id] && !progress.not_in_dlq.includes(id)) track(id, await replayOne(s, id));
        }
        log.info({ resumed_at: progress.next, in_flight: inflight.size }, 'replay batch resumed from its heartbeat');
      }
      const deadLettered = () => Object.values(progress.settled).filter((v) => v === 'dead_lettered').length;
      const gapMs = 1000 / o.rate_per_second;
      let nextReplayAt = Date.now();
      let nextPollAt = Date.now();
      let lastChange = Date.now();
      for (;;) {
        const stopped = thresholdCrossed(deadLettered(), o.error_threshold);
        const now = Date.now();
        if (!stopped && progress.next < ids.length && now >= nextReplayAt) {
          const id = ids[progress.next]!;
          track(id, await replayOne(s, id));
          progress.next += 1;
          nextReplayAt = Math.max(nextReplayAt + gapMs, now);
          lastChange = now;
        }
        if (now >= nextPollAt) {
          const states = await typed(`reading ${s.main}`, () => s.states([...inflight.values()]));
          for (const [id, replay] of [...inflight]) {
            const state = states.get(replay);
            if (state === 'processed') {
              await s.remove(id);
              progress.settled[id] = 'processed';
            } else if (state === 'dead_lettered') {
              progress.settled[id] = 'dead_lettered';
              log.warn({ dlq_id: id, replay_id: replay }, 'replayed entry dead-lettered again');
            } else continue;
            inflight.delete(id);
            lastChange = Date.now();
          }
          heartbeat(progress);
          nextPollAt = Date.now() + o.poll_ms;
        }
        const more = !thresholdCrossed(deadLettered(), o.error_threshold) && progress.next < ids.length;
        if (!more && inflight.size === 0) break;
        if (!more && Date.now() - lastChange >= o.settle_timeout_ms) break;
        const wake = more ? Math.min(nextReplayAt, nextPollAt) : nextPollAt;
        await pause(wake - Date.now(), 'the replay batch');
      }
      const settled = Object.entries(progress.settled);
      const result: BatchResult = {
        replayed: progress.next - progress.not_in_dlq.length,
        processed: settled.filter(([, v]) => v === 'processed').map(([k]) => k),
        dead_lettered: settled.filter(([, v]) => v === 'dead_lettered').map(([k]) => k),
        unsettled: [...inflight.keys()],
        not_in_dlq: progress.not_in_dlq,
        not_started: ids.length - progress.next,
        stopped_at_threshold: thresholdCrossed(deadLettered(), o.error_threshold),
      };
      log.info({ ...result, processed: result.processed.length, dead_lettered: result.dead_lettered.length }, 'replay batch finished');
      return result;
    },
  };
}

export type DlqActivities = ReturnType<typeof createDlqActivities>;
