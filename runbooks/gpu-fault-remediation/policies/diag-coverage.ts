/**
 * Whether a DCGM diagnostic actually vouches for every GPU of a node. dcgmi can
 * report success for a run that never tested a GPU: one the driver did not
 * enumerate is simply absent from the output, and a GPU whose tests were all
 * skipped has no failure to show. So a diag passes here only when the inventory's
 * GPUs 0..expected-1 each have at least one Pass and no Fail, and dcgmi itself
 * reported a pass. Pure.
 */
import type { DiagSummary } from '../../../domain/gpu-observations';

export interface DiagCoverage {
  pass: boolean;
  expected_gpus: number;
  /** GPUs with at least one Pass and no Fail. */
  passed: number[];
  /** GPUs with at least one Fail (including ids beyond the inventory's count). */
  failed: number[];
  /** Expected GPUs with no result at all. */
  missing: number[];
  /** Expected GPUs whose every result was Skip. */
  skipped_only: number[];
  /** GPU ids the diag reported that the inventory does not expect. */
  unexpected: number[];
  /** One line saying why it passed or what stopped it. */
  reason: string;
}

interface Tally {
  pass: number;
  fail: number;
  skip: number;
}

const list = (ids: number[]): string => ids.join(', ');

export function assessDiagCoverage(summary: DiagSummary, expectedGpuCount: number): DiagCoverage {
  const verdict: DiagCoverage = {
    pass: false,
    expected_gpus: expectedGpuCount,
    passed: [],
    failed: [],
    missing: [],
    skipped_only: [],
    unexpected: [],
    reason: '',
  };
  if (!Number.isInteger(expectedGpuCount) || expectedGpuCount < 1) {
    verdict.reason = `cannot judge coverage: the inventory expects ${expectedGpuCount} GPUs`;
    return verdict;
  }

  const tallies = new Map<number, Tally>();
  const tally = (id: number): Tally => {
    let t = tallies.get(id);
    if (!t) tallies.set(id, (t = { pass: 0, fail: 0, skip: 0 }));
    return t;
  };
  let groupWideFailures = 0;
  for (const r of summary.results) {
    if (r.entity_id !== null) {
      tally(r.entity_id)[r.status] += 1;
    } else if (r.all_gpus) {
      // A group-wide DCGM 3 result speaks for the GPUs the run listed; a
      // failure there names no GPU, so it blocks the pass without blaming one.
      if (r.status === 'fail') groupWideFailures += 1;
      else for (const id of summary.gpus_in_run ?? []) tally(id)[r.status] += 1;
    }
    // Other results without a GPU (non-GPU entities, summaries standing in for
    // a test without per-entity results) say nothing about any one GPU.
  }

  for (let id = 0; id < expectedGpuCount; id += 1) {
    const t = tallies.get(id);
    if (!t) verdict.missing.push(id);
    else if (t.fail > 0) verdict.failed.push(id);
    else if (t.pass > 0) verdict.passed.push(id);
    else verdict.skipped_only.push(id);
  }
  const extra = [...tallies.keys()].filter((id) => id >= expectedGpuCount).sort((a, b) => a - b);
  verdict.unexpected = extra;
  for (const id of extra) if (tallies.get(id)!.fail > 0) verdict.failed.push(id);
  verdict.failed.sort((a, b) => a - b);

  const problems: string[] = [];
  if (verdict.failed.length > 0) problems.push(`GPU ${list(verdict.failed)} failed`);
  if (verdict.missing.length > 0) problems.push(`GPU ${list(verdict.missing)} not in the output`);
  if (verdict.skipped_only.length > 0) problems.push(`GPU ${list(verdict.skipped_only)} only skipped`);
  if (groupWideFailures > 0) problems.push(`${groupWideFailures} group-wide check(s) failed`);
  if (summary.overall !== 'pass') {
    const why = summary.runtime_error !== undefined ? ` (${summary.runtime_error})` : '';
    problems.push(`dcgmi reported ${summary.overall}${why}`);
  }

  if (problems.length === 0) {
    verdict.pass = true;
    verdict.reason = `all ${expectedGpuCount} expected GPU(s) tested and passed`;
  } else {
    verdict.reason = `diag does not cover the node: ${problems.join('; ')}`;
  }
  if (extra.length > 0) verdict.reason += `; reported GPU(s) ${list(extra)} beyond the ${expectedGpuCount} the inventory expects`;
  return verdict;
}
