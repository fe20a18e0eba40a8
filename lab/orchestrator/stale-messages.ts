/**
 * Stale messages, as a cluster comes to have them: a replica process reads a
 * batch of jobs with XREADGROUP and dies before it hands them out or acknowledges
 * them, so they sit in the group's PEL under a consumer no process answers to.
 * Their model artifact is gone from the GPU hosts too (a fixable root cause), so
 * once the leader's reclaimer takes them over with XAUTOCLAIM (after its
 * min-idle time) every attempt fails, and after the last one each job is
 * dead-lettered with its cause: a DLQ storm the reclaimer itself produced.
 */
import type { Redis } from 'ioredis';
import { replicaId } from './replica';
import { DLQ, GROUP, STREAM } from './streams';
import type { JobRow } from './store';

export interface StaleMessagesLab {
  /** A replica host: the dead consumer ran there. */
  consumerNode: string;
  /** A PID for the dead process (the host's next one: nothing runs under it once it is gone). */
  nextPid(): number;
  /** A Redis connection of its own, named as the process would name it. */
  connectRedis(connectionName: string): Redis;
  /** The jobs' rows as the workers settled them. */
  jobs(): Promise<JobRow[]>;
  /** The orchestrator is in maintenance drain. */
  drained(): Promise<boolean>;
}

export interface StrandedMessages {
  consumer: string;
  job_ids: string[];
  stream_ids: string[];
}

export class StaleMessagesError extends Error {}

/**
 * The dying process's read: the jobs are added and read in one MULTI on its own
 * connection, so no live replica reads them first; then the connection closes
 * without an XACK. In drain the group may hold older undelivered entries that
 * this read would take instead, so it is refused.
 */
export async function strandMessages(lab: StaleMessagesLab, model: string, count: number, prefix?: string): Promise<StrandedMessages> {
  if (await lab.drained())
    throw new StaleMessagesError('the orchestrator is in maintenance drain: no replica reads new entries now, so none would strand them');
  const pid = lab.nextPid();
  const consumer = replicaId(lab.consumerNode, pid);
  const jobIds = Array.from({ length: count }, (_, i) => `${prefix ?? `stale-${pid}`}-${i + 1}`);
  const redis = lab.connectRedis(`gpu-orchestrator:${consumer}`);
  try {
    const adds = jobIds.map((id) => ['xadd', STREAM, '*', 'job_id', id, 'model', model]);
    const read = ['xreadgroup', 'GROUP', GROUP, consumer, 'COUNT', String(count), 'STREAMS', STREAM, '>'];
    const replies = (await redis.multi([...adds, read]).exec()) ?? [];
    const failed = replies.find(([err]) => err);
    if (failed) throw new StaleMessagesError(`the stranding transaction failed: ${(failed[0] as Error).message}`);
    const streamIds = replies.slice(0, count).map(([, id]) => String(id));
    const delivered = ((replies[count]?.[1] as [string, [string, string[]][]][] | null)?.[0]?.[1] ?? []).map(([id]) => id);
    if (delivered.join() !== streamIds.join()) {
      throw new StaleMessagesError(`the dead consumer read ${delivered.length} entries, not the ${count} added (${delivered.slice(0, 3).join(', ')}...)`);
    }
    return { consumer, job_ids: jobIds, stream_ids: streamIds };
  } finally {
    // The process dies: its connection goes, its pending entries stay.
    redis.disconnect();
  }
}

/** DLQ entries by job id (the storm's, and any other). */
async function deadLetters(redis: Redis): Promise<Map<string, { dlq_id: string; cause: string; attempts: string }>> {
  const out = new Map<string, { dlq_id: string; cause: string; attempts: string }>();
  for (const [id, flat] of await redis.xrange(DLQ, '-', '+')) {
    const f: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) f[flat[i]!] = flat[i + 1]!;
    if (f.job_id) out.set(f.job_id, { dlq_id: id, cause: f.cause ?? '', attempts: f.attempts ?? '' });
  }
  return out;
}

export interface StormSettled {
  waited_ms: number;
  dead_lettered: { job_id: string; dlq_id: string; cause: string; attempts: number }[];
}

/**
 * Waits (real ms, at most `timeoutMs`) until every stranded job is dead-lettered:
 * its row says so and the DLQ holds its entry. What a staging hook does before it
 * answers, so the drilled run finds the storm in the DLQ rather than on its way.
 */
export async function waitForDeadLetters(lab: StaleMessagesLab, jobIds: string[], timeoutMs: number, pollMs: number): Promise<StormSettled> {
  const started = Date.now();
  const redis = lab.connectRedis('gpu-orchestrator-lab-fault');
  try {
    let settled = 0;
    for (;;) {
      const dlq = await deadLetters(redis);
      const rows = new Map((await lab.jobs()).map((j) => [j.job_id, j]));
      const done = jobIds.filter((id) => rows.get(id)?.status === 'dead_letter' && dlq.has(id));
      settled = done.length;
      if (settled === jobIds.length) {
        return {
          waited_ms: Date.now() - started,
          dead_lettered: jobIds.map((id) => ({ job_id: id, dlq_id: dlq.get(id)!.dlq_id, cause: dlq.get(id)!.cause, attempts: Number(dlq.get(id)!.attempts) })),
        };
      }
      if (Date.now() - started >= timeoutMs) break;
      await new Promise((r) => setTimeout(r, pollMs));
    }
    throw new StaleMessagesError(
      `${settled} of ${jobIds.length} stale messages reached ${DLQ} within ${timeoutMs} ms: is a leader up and reclaiming (XAUTOCLAIM), and is the orchestrator's job stream consumed?`,
    );
  } finally {
    redis.disconnect();
  }
}
