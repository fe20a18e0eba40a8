/**
 * The DLQ replay's pure parts: which fields go back to the main stream, how a sample
 * is grouped, stream id order, names that become paths or keys.
 */
import {
  compareStreamIds,
  groupByCause,
  isCheckedCause,
  mainStreamOf,
  modelArtifactPath,
  replayFields,
  replayedKey,
  statArtifactCommand,
  thresholdCrossed,
  type StreamEntry,
} from '../../domain/dlq';
import { countMutations, renderPlan } from '../../domain/plan';

// A dead letter as the orchestrator writes it (lab/orchestrator/job-runner.ts).
const deadLetter = {
  id: '1764780000000-3',
  fields: {
    job_id: 'job-7',
    source_id: '1764779990000-0',
    model: 'llama-3-8b',
    cause: 'model_artifact_missing',
    error: 'FileNotFoundError: model artifact not found: /var/lib/gpu-orchestrator/models/llama-3-8b/model.safetensors',
    attempts: '3',
    pool_id: 'pool-llama-3-8b',
    failed_at: '2026-12-03T16:40:00.000Z',
  },
};

test('a replay carries the job as its producer wrote it, and replay_of naming the DLQ entry', () => {
  expect(replayFields(deadLetter)).toEqual({ job_id: 'job-7', model: 'llama-3-8b', replay_of: '1764780000000-3' });
  // A dead letter of a replay does not carry the older replay_of along.
  expect(replayFields({ id: '2-0', fields: { job_id: 'j', replay_of: '1-0' } })).toEqual({ job_id: 'j', replay_of: '2-0' });
});

test('a sample is grouped by cause, the largest group first, with its models and examples', () => {
  const entries: StreamEntry[] = [
    deadLetter,
    { id: '5-0', fields: { job_id: 'a', model: 'mistral-7b', cause: 'model_artifact_missing' } },
    { id: '6-0', fields: { job_id: 'b', model: 'llama-3-8b', cause: 'model_artifact_missing' } },
    { id: '7-0', fields: { job_id: 'c', model: 'llama-3-8b', cause: 'oom' } },
    { id: '8-0', fields: { job_id: 'd' } },
  ];
  const groups = groupByCause(entries);
  expect(groups.map((g) => [g.cause, g.count])).toEqual([
    ['model_artifact_missing', 3],
    ['oom', 1],
    ['unknown', 1],
  ]);
  expect(groups[0]!.models).toEqual(['llama-3-8b', 'mistral-7b']);
  expect(groups[0]!.examples).toEqual(['1764780000000-3', '5-0', '6-0']);
  expect(groups[0]!.error).toContain('FileNotFoundError');
  expect(isCheckedCause('model_artifact_missing')).toBe(true);
  expect(isCheckedCause('oom')).toBe(false);
  expect(isCheckedCause('toString')).toBe(false);
});

test('stream ids compare as numbers, not as text', () => {
  expect(compareStreamIds('999-0', '1000-0')).toBe(-1);
  expect(compareStreamIds('1000-10', '1000-9')).toBe(1);
  expect(compareStreamIds('1000-0', '1000-0')).toBe(0);
  expect(compareStreamIds('1764780000000-0', '0-0')).toBe(1);
});

test('names: the main stream of a DLQ, the dedupe key, the artifact path (no traversal)', () => {
  expect(mainStreamOf('stream:orchestrator:inference_jobs:dlq')).toBe('stream:orchestrator:inference_jobs');
  expect(() => mainStreamOf('stream:orchestrator:inference_jobs')).toThrow(RangeError);
  expect(replayedKey('s:dlq')).toBe('dlq-replay:replayed:s:dlq');
  expect(modelArtifactPath('llama-3-8b')).toBe('/var/lib/gpu-orchestrator/models/llama-3-8b/model.safetensors');
  expect(statArtifactCommand('mistral-7b')).toEqual(['stat', '-c', '%s', '/var/lib/gpu-orchestrator/models/mistral-7b/model.safetensors']);
  expect(() => modelArtifactPath('../../etc')).toThrow(RangeError);
  expect(() => modelArtifactPath('a/b')).toThrow(RangeError);
});

test('the error threshold is crossed at its count', () => {
  expect(thresholdCrossed(2, 3)).toBe(false);
  expect(thresholdCrossed(3, 3)).toBe(true);
});

test('a plan shows Redis commands and counts the mutating ones', () => {
  const actions = [
    { kind: 'redis' as const, step: 'select_entries', command: ['XRANGE', 's:dlq', '-', '+', 'COUNT', '5'], mutates: false },
    { kind: 'redis' as const, step: 'remove_canary_from_dlq', command: ['XDEL', 's:dlq', '1-0'], mutates: true },
  ];
  expect(renderPlan(actions)).toEqual(['select_entries: redis XRANGE s:dlq - + COUNT 5  [no change]', 'remove_canary_from_dlq: redis XDEL s:dlq 1-0']);
  expect(countMutations(actions)).toBe(1);
});
