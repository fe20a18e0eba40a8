import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDcgmDiag } from '../../../capabilities/gpu/parse-dcgm-diag';
import { assessDiagCoverage } from '../policies/diag-coverage';

const fixture = (name: string): string => readFileSync(join(__dirname, '../../../test/fixtures/gpu/dcgm', name), 'utf8');

interface V4Result {
  entity_id: number;
  status: string;
}
interface V4Doc {
  'DCGM Diagnostic': { test_categories: { tests: { results: V4Result[] }[] }[] };
  entity_groups: { entities: { entity_id: number }[] }[];
}

/** The clean 4-GPU DCGM 4 level-2 document, edited the way a real run would differ. */
function editedV4(edit: (doc: V4Doc) => void): string {
  const doc = JSON.parse(fixture('dcgm4-r2-pass.json')) as V4Doc;
  edit(doc);
  return JSON.stringify(doc, null, 3);
}
const eachResult = (doc: V4Doc, fn: (r: V4Result, results: V4Result[]) => void): void => {
  for (const cat of doc['DCGM Diagnostic'].test_categories) for (const t of cat.tests) for (const r of [...t.results]) fn(r, t.results);
};

describe('assessDiagCoverage', () => {
  it('passes a DCGM 4 run in which every expected GPU passed', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0), 4);
    expect(v).toEqual({
      pass: true,
      expected_gpus: 4,
      passed: [0, 1, 2, 3],
      failed: [],
      missing: [],
      skipped_only: [],
      unexpected: [],
      reason: 'all 4 expected GPU(s) tested and passed',
    });
  });

  it('passes every iteration of an --iterations run', () => {
    expect(assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-iterations-pass.json'), 0), 4).pass).toBe(true);
  });

  it('does not pass when a GPU is missing from the output, although dcgmi passed', () => {
    // GPU 2 is not enumerated at all: no entity, no results.
    const text = editedV4((doc) => {
      eachResult(doc, (r, results) => {
        if (r.entity_id === 2) results.splice(results.indexOf(r), 1);
      });
      doc.entity_groups[0]!.entities = doc.entity_groups[0]!.entities.filter((e) => e.entity_id !== 2);
    });
    const summary = parseDcgmDiag(text, 0);
    expect(summary.overall).toBe('pass');
    const v = assessDiagCoverage(summary, 4);
    expect(v).toMatchObject({ pass: false, passed: [0, 1, 3], missing: [2], failed: [], skipped_only: [] });
    expect(v.reason).toBe('diag does not cover the node: GPU 2 not in the output');
  });

  it('does not pass when the inventory expects more GPUs than the diag reported', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0), 8);
    expect(v).toMatchObject({ pass: false, passed: [0, 1, 2, 3], missing: [4, 5, 6, 7] });
    expect(v.reason).toBe('diag does not cover the node: GPU 4, 5, 6, 7 not in the output');
  });

  it('does not pass a GPU whose every test was skipped', () => {
    const text = editedV4((doc) => eachResult(doc, (r) => r.entity_id === 1 && (r.status = 'Skip')));
    const summary = parseDcgmDiag(text, 0);
    expect(summary.overall).toBe('pass');
    const v = assessDiagCoverage(summary, 4);
    expect(v).toMatchObject({ pass: false, passed: [0, 2, 3], skipped_only: [1], missing: [], failed: [] });
    expect(v.reason).toBe('diag does not cover the node: GPU 1 only skipped');
  });

  it('counts a GPU with a Pass and some Skips as tested', () => {
    const text = editedV4((doc) => {
      let first = true;
      eachResult(doc, (r) => {
        if (r.entity_id !== 1) return;
        if (!first) r.status = 'Skip';
        first = false;
      });
    });
    expect(assessDiagCoverage(parseDcgmDiag(text, 0), 4)).toMatchObject({ pass: true, passed: [0, 1, 2, 3] });
  });

  it('fails a GPU with a Fail even when its later tests were skipped', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r2-fail.json'), 226), 4);
    expect(v).toMatchObject({ pass: false, passed: [0, 1, 3], failed: [2], skipped_only: [], missing: [] });
    expect(v.reason).toBe('diag does not cover the node: GPU 2 failed; dcgmi reported fail');
  });

  it('lists every failed GPU of a level-3 run, Warn counted as Fail', () => {
    expect(assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r3-fail.json'), 226), 4)).toMatchObject({
      pass: false,
      passed: [0, 2],
      failed: [1, 3],
    });
  });

  it('does not pass a fully covered run that dcgmi did not report as a pass', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 217), 4);
    expect(v.pass).toBe(false);
    expect(v.passed).toEqual([0, 1, 2, 3]);
    expect(v.reason).toMatch(/^diag does not cover the node: dcgmi reported error \(dcgmi exited 217 \(another diagnostic is already running\)/);
  });

  it('does not pass a run that could not start', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-runtime-error.json'), 215), 2);
    expect(v).toMatchObject({ pass: false, missing: [0, 1] });
  });

  it('passes the GPUs a DCGM 3 level-1 run covered through its group-wide checks', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm3-r1-pass.json'), 0), 2);
    expect(v).toMatchObject({ pass: true, passed: [0, 1] });
    // The document names two GPUs; a node with four is not covered by it.
    expect(assessDiagCoverage(parseDcgmDiag(fixture('dcgm3-r1-pass.json'), 0), 4)).toMatchObject({ pass: false, missing: [2, 3] });
  });

  it('fails the GPU a DCGM 3 run named in a failure and passes the other', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm3-r2-fail.json'), 226), 2);
    expect(v).toMatchObject({ pass: false, passed: [0], failed: [1] });
  });

  it('reports GPUs beyond the inventory without blaming the covered ones', () => {
    const v = assessDiagCoverage(parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0), 2);
    expect(v).toMatchObject({ pass: true, passed: [0, 1], unexpected: [2, 3] });
    expect(v.reason).toBe('all 2 expected GPU(s) tested and passed; reported GPU(s) 2, 3 beyond the 2 the inventory expects');
  });

  it('refuses to judge without a usable expected count', () => {
    const summary = parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0);
    expect(assessDiagCoverage(summary, 0)).toMatchObject({ pass: false, reason: 'cannot judge coverage: the inventory expects 0 GPUs' });
    expect(assessDiagCoverage(summary, 2.5).pass).toBe(false);
  });
});
