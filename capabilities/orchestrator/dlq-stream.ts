/**
 * The orchestrator's dead-letter stream and its main stream, as the dlq-replay
 * runbook touches them over Redis: XRANGE/XLEN to read, one Lua script to replay
 * an entry (XADD to the main stream and the dedupe record together, or nothing),
 * XINFO/XPENDING and the DLQ to tell what became of a replay, XDEL to remove an
 * entry whose replay was processed. The group's position is never moved: no
 * XGROUP SETID, ever (seed 004's `SETID ... 0` redelivers every entry, `$` skips
 * the undelivered ones).
 */
import type { Redis } from 'ioredis';
import { compareStreamIds, mainStreamOf, replayedKey, type ReplayState, type StreamEntry } from '../../domain/dlq';

/**
 * Adds the entry to the main stream only if it is not in the dedupe record yet and
 * is still in the DLQ; records it in the same script, so a retried or rerun call,
 * a second worker or a crash between the two can never add it twice.
 * KEYS: dedupe hash, DLQ, main stream. ARGV: DLQ entry id, then the fields to add.
 */
const REPLAY_ONCE = `
local prev = redis.call('HGET', KEYS[1], ARGV[1])
if prev then return {'replayed_before', prev} end
if #redis.call('XRANGE', KEYS[2], ARGV[1], ARGV[1]) == 0 then return {'not_in_dlq', ''} end
local id = redis.call('XADD', KEYS[3], '*', unpack(ARGV, 2))
redis.call('HSET', KEYS[1], ARGV[1], id)
return {'added', id}
`;

export type ReplayResult = { result: 'added' | 'replayed_before'; replay_id: string } | { result: 'not_in_dlq'; replay_id: null };

function entriesOf(raw: unknown): StreamEntry[] {
  if (!Array.isArray(raw)) return [];
  return raw.map(([id, flat]: [string, string[]]) => {
    const fields: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
    return { id, fields };
  });
}

export class DlqStream {
  readonly main: string;
  readonly replayed: string;

  constructor(
    private readonly redis: Redis,
    readonly dlq: string,
    readonly group: string,
  ) {
    this.main = mainStreamOf(dlq);
    this.replayed = replayedKey(dlq);
  }

  async length(): Promise<number> {
    return Number(await this.redis.call('XLEN', this.dlq));
  }

  /** Up to `count` entries from `after` (exclusive) on, oldest first. */
  async range(count: number, after?: string): Promise<StreamEntry[]> {
    return entriesOf(await this.redis.call('XRANGE', this.dlq, after ? `(${after}` : '-', '+', 'COUNT', String(count)));
  }

  async entry(id: string): Promise<StreamEntry | null> {
    return entriesOf(await this.redis.call('XRANGE', this.dlq, id, id))[0] ?? null;
  }

  /** The replay ids the dedupe record holds for these DLQ entries (null: never replayed). */
  async replaysOf(ids: readonly string[]): Promise<(string | null)[]> {
    if (ids.length === 0) return [];
    return (await this.redis.call('HMGET', this.replayed, ...ids)) as (string | null)[];
  }

  async replayOnce(id: string, fields: Record<string, string>): Promise<ReplayResult> {
    const [result, replayId] = (await this.redis.eval(REPLAY_ONCE, 3, this.replayed, this.dlq, this.main, id, ...Object.entries(fields).flat())) as [
      string,
      string,
    ];
    if (result === 'not_in_dlq') return { result, replay_id: null };
    return { result: result as 'added' | 'replayed_before', replay_id: replayId };
  }

  /**
   * What became of each replay. Read in this order so nothing is missed: the
   * group's last delivered id first (an entry after it is waiting), then the
   * pending list (delivered, not acknowledged), then the DLQ after the oldest
   * replay (a dead letter whose source_id is the replay). Acknowledged without
   * a dead letter is processed: the orchestrator writes the dead letter before
   * it acknowledges.
   */
  async states(replayIds: readonly string[]): Promise<Map<string, ReplayState>> {
    const out = new Map<string, ReplayState>();
    if (replayIds.length === 0) return out;
    const lastDelivered = await this.lastDeliveredId();
    const delivered = replayIds.filter((id) => compareStreamIds(id, lastDelivered) <= 0);
    for (const id of replayIds) if (!delivered.includes(id)) out.set(id, 'waiting');
    if (delivered.length === 0) return out;
    // One XPENDING per replay: a range would count other jobs' pending entries against its COUNT.
    const pending = new Set<string>();
    for (const id of delivered) {
      const p = (await this.redis.call('XPENDING', this.main, this.group, id, id, '1')) as unknown[];
      if (p.length > 0) pending.add(id);
    }
    const acked = delivered.filter((id) => !pending.has(id));
    for (const id of delivered) if (pending.has(id)) out.set(id, 'in_flight');
    if (acked.length === 0) return out;
    const wanted = new Set(acked);
    const deadLettered = new Set<string>();
    // Dead letters of these replays were written after them: the DLQ from the oldest replay on.
    let from = [...acked].sort(compareStreamIds)[0]!;
    let exclusive = false;
    for (;;) {
      const page = entriesOf(await this.redis.call('XRANGE', this.dlq, exclusive ? `(${from}` : from, '+', 'COUNT', '500'));
      for (const e of page) if (e.fields.source_id && wanted.has(e.fields.source_id)) deadLettered.add(e.fields.source_id);
      if (page.length < 500) break;
      from = page[page.length - 1]!.id;
      exclusive = true;
    }
    for (const id of acked) out.set(id, deadLettered.has(id) ? 'dead_lettered' : 'processed');
    return out;
  }

  /** Removes a DLQ entry; 0 when it was gone already. */
  async remove(id: string): Promise<number> {
    return Number(await this.redis.call('XDEL', this.dlq, id));
  }

  private async lastDeliveredId(): Promise<string> {
    const groups = (await this.redis.call('XINFO', 'GROUPS', this.main)) as unknown[][];
    for (const g of groups) {
      const info: Record<string, unknown> = {};
      for (let i = 0; i + 1 < g.length; i += 2) info[String(g[i])] = g[i + 1];
      if (info.name === this.group) return String(info['last-delivered-id']);
    }
    throw new RangeError(`${this.main} has no consumer group ${this.group}`);
  }
}
