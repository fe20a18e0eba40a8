/**
 * The orchestrator's dead-letter queue as the dlq-replay runbook reads it: what a
 * dead-letter entry carries, which of its fields are the job and which say why it
 * died, which causes a run can check for itself, and the dedupe record that keeps
 * any entry from being replayed twice. Plain data and pure functions.
 */

/** One entry of a stream: its id and its fields. */
export interface StreamEntry {
  id: string;
  fields: Record<string, string>;
}

/** Fields the orchestrator adds when it dead-letters a job; the rest is the job as its producer wrote it. */
export const DEAD_LETTER_FIELDS = ['source_id', 'cause', 'error', 'attempts', 'pool_id', 'failed_at'] as const;

/** The field a replayed entry carries: the DLQ entry it came from (its idempotency key). */
export const REPLAY_OF_FIELD = 'replay_of';

/** A DLQ stream is its main stream's name with this suffix (seed 004: `stream:orchestrator:inference_jobs:dlq`). */
export const DLQ_SUFFIX = ':dlq';

export const DlqStreamPattern = /^[A-Za-z0-9_.:{}-]{1,200}:dlq$/;

/** The stream a DLQ's entries are replayed into. */
export function mainStreamOf(dlq: string): string {
  if (!dlq.endsWith(DLQ_SUFFIX)) throw new RangeError(`${dlq} is not a DLQ stream (no ${DLQ_SUFFIX} suffix)`);
  return dlq.slice(0, -DLQ_SUFFIX.length);
}

/**
 * The dedupe record: a hash from DLQ entry id to the id of its replay in the main
 * stream, written in the same Lua script as the XADD. An entry in it is never added again.
 */
export function replayedKey(dlq: string): string {
  return `dlq-replay:replayed:${dlq}`;
}

/** The job's fields again, as the producer wrote them, plus `replay_of`. */
export function replayFields(entry: StreamEntry): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(entry.fields)) {
    if (!(DEAD_LETTER_FIELDS as readonly string[]).includes(k) && k !== REPLAY_OF_FIELD) out[k] = v;
  }
  out[REPLAY_OF_FIELD] = entry.id;
  return out;
}

/** The cause the orchestrator wrote; entries without one are grouped as `unknown`. */
export function causeOf(entry: StreamEntry): string {
  return entry.fields.cause?.trim() || 'unknown';
}

export interface CauseGroup {
  cause: string;
  count: number;
  /** The models the entries of this cause ran. */
  models: string[];
  /** Up to three entry ids, as examples. */
  examples: string[];
  /** The first entry's error text, cut to 300 characters. */
  error: string;
}

/** The sample grouped by cause, the largest group first. */
export function groupByCause(entries: readonly StreamEntry[]): CauseGroup[] {
  const groups = new Map<string, CauseGroup>();
  for (const e of entries) {
    const cause = causeOf(e);
    const g = groups.get(cause) ?? { cause, count: 0, models: [], examples: [], error: (e.fields.error ?? '').slice(0, 300) };
    g.count += 1;
    const model = e.fields.model;
    if (model && !g.models.includes(model)) g.models.push(model);
    if (g.examples.length < 3) g.examples.push(e.id);
    groups.set(cause, g);
  }
  return [...groups.values()].sort((a, b) => b.count - a.count || a.cause.localeCompare(b.cause));
}

/**
 * Causes a run can check for itself before replaying: the cause, and what must
 * hold again. Any other cause needs a person's approval after they saw the sample.
 */
export const CHECKED_CAUSES = {
  /** The model file is gone from the GPU hosts (seed 004: "missing artifacts"); fixed when every pool host has it again. */
  model_artifact_missing: 'model_artifact_present',
} as const satisfies Record<string, string>;

export type CheckedCause = keyof typeof CHECKED_CAUSES;

export function isCheckedCause(cause: string): cause is CheckedCause {
  return Object.prototype.hasOwnProperty.call(CHECKED_CAUSES, cause);
}

/** Where a pool worker loads a model from on its GPU host. */
export const MODEL_DIR = '/var/lib/gpu-orchestrator/models';
export const ModelNamePattern = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function modelArtifactPath(model: string): string {
  if (!ModelNamePattern.test(model)) throw new RangeError(`not a model name: ${JSON.stringify(model)}`);
  return `${MODEL_DIR}/${model}/model.safetensors`;
}

/** `stat` of the artifact: its size in bytes (exit 1 when it is missing). */
export function statArtifactCommand(model: string): string[] {
  return ['stat', '-c', '%s', modelArtifactPath(model)];
}

/** Where a replayed entry is, as its stream and group show it. */
export type ReplayState =
  /** In the main stream, not yet delivered to the group (the orchestrator is drained, or busy). */
  | 'waiting'
  /** Delivered, not yet acknowledged: a worker has it. */
  | 'in_flight'
  /** Acknowledged with no new dead letter for it: the job was done. */
  | 'processed'
  /** Acknowledged after the orchestrator dead-lettered it again (a DLQ entry whose source_id is the replay). */
  | 'dead_lettered';

/** Compares two stream ids (`ms-seq`) numerically. */
export function compareStreamIds(a: string, b: string): number {
  const [am, as] = a.split('-').map((x) => BigInt(x || '0'));
  const [bm, bs] = b.split('-').map((x) => BigInt(x || '0'));
  if (am !== bm) return am! < bm! ? -1 : 1;
  if ((as ?? 0n) !== (bs ?? 0n)) return (as ?? 0n) < (bs ?? 0n) ? -1 : 1;
  return 0;
}

/** The error threshold: replay stops once this many replayed entries were dead-lettered again. */
export function thresholdCrossed(deadLettered: number, threshold: number): boolean {
  return deadLettered >= threshold;
}
