/**
 * The job stream as the orchestrator uses it: one consumer group, new entries
 * with XREADGROUP ... >, entries another consumer left pending with XAUTOCLAIM,
 * XACK once a job is settled, XADD to the dead-letter stream when it gives up.
 * The group's position is never moved (no XGROUP SETID): pausing is not reading.
 */
import type { Redis } from 'ioredis';

export const STREAM = 'stream:orchestrator:inference_jobs';
export const DLQ = `${STREAM}:dlq`;
export const GROUP = 'cg:inference';

export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

function entry(raw: unknown): StreamEntry | null {
  if (!Array.isArray(raw) || typeof raw[0] !== 'string' || !Array.isArray(raw[1])) return null;
  const flat = raw[1] as string[];
  const fields: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) fields[flat[i]!] = flat[i + 1]!;
  return { id: raw[0], fields };
}

const entries = (raw: unknown): StreamEntry[] => (Array.isArray(raw) ? raw.map(entry).filter((e): e is StreamEntry => e !== null) : []);

/** The group, created at the stream's start so entries added before the first replica are not skipped. */
export async function ensureGroup(redis: Redis): Promise<void> {
  try {
    await redis.call('XGROUP', 'CREATE', STREAM, GROUP, '0', 'MKSTREAM');
  } catch (err) {
    if (!/BUSYGROUP/.test((err as Error).message)) throw err;
  }
}

/** Entries never delivered to any consumer of the group. */
export async function readNew(redis: Redis, consumer: string, count: number): Promise<StreamEntry[]> {
  const raw = (await redis.call('XREADGROUP', 'GROUP', GROUP, consumer, 'COUNT', String(count), 'STREAMS', STREAM, '>')) as [string, unknown][] | null;
  return raw ? entries(raw[0]?.[1]) : [];
}

/** Entries pending longer than minIdleMs on any consumer (a dead leader, a failed attempt), now owned by `consumer`. */
export async function autoclaim(redis: Redis, consumer: string, minIdleMs: number, count: number): Promise<StreamEntry[]> {
  const raw = (await redis.call('XAUTOCLAIM', STREAM, GROUP, consumer, String(Math.max(0, Math.round(minIdleMs))), '0-0', 'COUNT', String(count))) as unknown[];
  return entries(raw[1]);
}

/** Claims an entry `consumer` already holds again, so its idle time starts over (JUSTID: not counted as a delivery); false when it is no longer pending. */
export async function touch(redis: Redis, consumer: string, id: string): Promise<boolean> {
  const ids = (await redis.call('XCLAIM', STREAM, GROUP, consumer, '0', id, 'JUSTID')) as string[];
  return ids.length > 0;
}

export async function ack(redis: Redis, id: string): Promise<void> {
  await redis.call('XACK', STREAM, GROUP, id);
}

export async function deadLetter(redis: Redis, fields: Record<string, string>): Promise<string> {
  return (await redis.call('XADD', DLQ, '*', ...Object.entries(fields).flat())) as string;
}

/** Delivered but not yet acknowledged (XPENDING's summary count). */
export async function pendingCount(redis: Redis): Promise<number> {
  const raw = (await redis.call('XPENDING', STREAM, GROUP)) as unknown[];
  return Number(raw[0] ?? 0);
}

export async function length(redis: Redis, key: string): Promise<number> {
  return Number(await redis.call('XLEN', key));
}
