import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseDcgmDiag } from '../../capabilities/gpu/parse-dcgm-diag';

const fixture = (name: string): string => readFileSync(join(__dirname, '../fixtures/gpu/dcgm', name), 'utf8');

describe('parseDcgmDiag', () => {
  describe('DCGM 4.x', () => {
    it('passes a clean level-2 run', () => {
      const s = parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0);
      expect(s).toMatchObject({ overall: 'pass', format: 'dcgm4', dcgm_version: '4.2.3', level: 2, failed_gpus: [] });
      expect(s.runtime_error).toBeUndefined();
      expect(s.results).toHaveLength(12);
      expect(new Set(s.results.map((r) => r.test))).toEqual(new Set(['software', 'pcie', 'memory']));
      expect(s.results.every((r) => r.status === 'pass')).toBe(true);
      expect(s.results[0]).toEqual({ category: 'Deployment', test: 'software', entity_id: 0, status: 'pass', warnings: [] });
    });

    it('lists the GPUs the run covered from entity_groups, ignoring other entity groups', () => {
      expect(parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 0).gpus_in_run).toEqual([0, 1, 2, 3]);
      const doc = JSON.parse(fixture('dcgm4-r2-pass.json')) as Record<string, unknown>;
      doc['entity_groups'] = [
        { entities: [{ entity_id: 0 }, { entity_id: 1 }], entity_group: 'CPU', entity_group_id: 7 },
        {
          entities: [
            { device_id: '2330', entity_id: 5 },
            { device_id: '2330', entity_id: 4 },
          ],
          entity_group: 'GPU',
          entity_group_id: 1,
        },
      ];
      expect(parseDcgmDiag(JSON.stringify(doc), 0).gpus_in_run).toEqual([4, 5]);
      delete doc['entity_groups'];
      expect(parseDcgmDiag(JSON.stringify(doc), 0).gpus_in_run).toBeUndefined();
    });

    it('never marks a DCGM 4 result as group-wide', () => {
      expect(parseDcgmDiag(fixture('dcgm4-r2-fail.json'), 226).results.some((r) => r.all_gpus)).toBe(false);
    });

    it('fails a run where one GPU has a pending row remap', () => {
      const s = parseDcgmDiag(fixture('dcgm4-r2-fail.json'), 226);
      expect(s.overall).toBe('fail');
      expect(s.failed_gpus).toEqual([2]);
      expect(s.level).toBe(2);
      const failed = s.results.filter((r) => r.status === 'fail');
      expect(failed).toEqual([
        {
          category: 'Deployment',
          test: 'software',
          entity_id: 2,
          status: 'fail',
          warnings: [
            {
              message: 'GPU 2 has uncorrectable memory errors and row remappings are pending',
              error_id: 85,
              error_severity: 6,
              error_category: 10,
            },
          ],
        },
      ]);
      expect(s.results.filter((r) => r.status === 'skip').map((r) => [r.test, r.entity_id])).toEqual([
        ['pcie', 2],
        ['memory', 2],
      ]);
    });

    it('compares statuses case-insensitively and counts Warn as a failure (level 3)', () => {
      const s = parseDcgmDiag(fixture('dcgm4-r3-fail.json'), 226);
      expect(s.overall).toBe('fail');
      expect(s.level).toBe(3);
      expect(s.failed_gpus).toEqual([1, 3]);
      const power = s.results.find((r) => r.test === 'targeted_power' && r.entity_id === 1)!;
      expect(power.status).toBe('fail');
      expect(power.warnings[0]).toMatchObject({ error_id: 33, error_severity: 1 });
      const diag = s.results.filter((r) => r.test === 'diagnostic');
      expect(diag.map((r) => r.status)).toEqual(['pass', 'pass', 'pass', 'fail']);
    });

    it('reports a runtime_error as overall error', () => {
      const s = parseDcgmDiag(fixture('dcgm4-runtime-error.json'), 215);
      expect(s.overall).toBe('error');
      expect(s.format).toBe('dcgm4');
      expect(s.dcgm_version).toBe('4.2.3');
      expect(s.runtime_error).toMatch(/could not be launched/);
      expect(s.results).toEqual([]);
      expect(s.level).toBeUndefined();
    });

    it('fails on exit 226 or 205 even when no result failed', () => {
      const pass = fixture('dcgm4-r2-pass.json');
      expect(parseDcgmDiag(pass, 226).overall).toBe('fail');
      expect(parseDcgmDiag(pass, 205).overall).toBe('fail');
      expect(parseDcgmDiag(pass, 226).failed_gpus).toEqual([]);
    });

    it('does not pass a clean document with an unexpected exit status', () => {
      const s = parseDcgmDiag(fixture('dcgm4-r2-pass.json'), 217);
      expect(s.overall).toBe('error');
      expect(s.runtime_error).toMatch(/exited 217 \(another diagnostic is already running\)/);
    });

    it('fails a run whose results are clean but whose test summary failed', () => {
      const doc = {
        'DCGM Diagnostic': {
          test_categories: [
            {
              category: 'Hardware',
              tests: [
                {
                  name: 'memory',
                  results: [{ entity_group: 'GPU', entity_group_id: 1, entity_id: 0, status: 'Pass' }],
                  test_summary: { status: 'Fail', warnings: [{ warning: 'test aborted', error_id: 7 }] },
                },
              ],
            },
          ],
        },
        metadata: { version: '4.2.3' },
      };
      const s = parseDcgmDiag(JSON.stringify(doc), 0);
      expect(s.overall).toBe('fail');
      expect(s.failed_gpus).toEqual([]);
      expect(s.results.find((r) => r.entity_id === null)).toMatchObject({ status: 'fail', warnings: [{ message: 'test aborted', error_id: 7 }] });
    });

    it('does not pass when every result was skipped', () => {
      const doc = {
        'DCGM Diagnostic': {
          test_categories: [
            {
              category: 'Integration',
              tests: [{ name: 'pcie', results: [{ entity_group: 'GPU', entity_id: 0, status: 'Skip' }], test_summary: { status: 'Skip' } }],
            },
          ],
        },
      };
      const s = parseDcgmDiag(JSON.stringify(doc), 0);
      expect(s.overall).toBe('error');
      expect(s.runtime_error).toMatch(/no test produced a result/);
    });

    it('ignores non-GPU entities when listing failed GPUs', () => {
      const doc = {
        'DCGM Diagnostic': {
          test_categories: [
            {
              category: 'Hardware',
              tests: [
                {
                  name: 'cpu_eud',
                  results: [{ entity_group: 'CPU', entity_group_id: 7, entity_id: 0, status: 'Fail' }],
                },
              ],
            },
          ],
        },
      };
      const s = parseDcgmDiag(JSON.stringify(doc), 226);
      expect(s.overall).toBe('fail');
      expect(s.failed_gpus).toEqual([]);
      expect(s.results[0]!.entity_id).toBeNull();
    });
  });

  describe('--iterations wrapper', () => {
    it('merges the iterations and fails when any iteration failed', () => {
      const s = parseDcgmDiag(fixture('dcgm4-iterations.json'), 226);
      expect(s.overall).toBe('fail');
      expect(s.format).toBe('dcgm4');
      expect(s.results).toHaveLength(16);
      expect(s.failed_gpus).toEqual([0]);
      expect(s.level).toBe(2);
      expect(s.gpus_in_run).toEqual([0, 1, 2, 3]);
    });

    it('passes when every iteration passed', () => {
      const s = parseDcgmDiag(fixture('dcgm4-iterations-pass.json'), 0);
      expect(s.overall).toBe('pass');
      expect(s.failed_gpus).toEqual([]);
    });

    it('fails on an Overall Result of Fail and reports an aborted run as error', () => {
      const clean = JSON.parse(fixture('dcgm4-iterations-pass.json')) as Record<string, unknown>;
      expect(parseDcgmDiag(JSON.stringify({ ...clean, 'Overall Result': 'Fail' }), 0).overall).toBe('fail');
      const aborted = parseDcgmDiag(JSON.stringify({ ...clean, warning: 'Iteration 2 aborted: diagnostic killed' }), 203);
      expect(aborted.overall).toBe('error');
      expect(aborted.runtime_error).toBe('Iteration 2 aborted: diagnostic killed');
    });
  });

  describe('DCGM 3.x', () => {
    it('passes a clean level-1 run', () => {
      const s = parseDcgmDiag(fixture('dcgm3-r1-pass.json'), 0);
      expect(s).toMatchObject({ overall: 'pass', format: 'dcgm3', dcgm_version: '3.3.9', level: 1, failed_gpus: [] });
      expect(s.results).toHaveLength(9);
      expect(s.results.every((r) => r.entity_id === null && r.status === 'pass')).toBe(true);
    });

    it('marks Deployment results without a gpu_id as group-wide and lists the GPUs from the serials', () => {
      const s = parseDcgmDiag(fixture('dcgm3-r1-pass.json'), 0);
      expect(s.results.every((r) => r.all_gpus === true)).toBe(true);
      expect(s.gpus_in_run).toEqual([0, 1]);
      const failed = parseDcgmDiag(fixture('dcgm3-r2-fail.json'), 226);
      expect(failed.results.filter((r) => r.all_gpus).map((r) => r.test)).toEqual([
        'Denylist',
        'NVML Library',
        'CUDA Main Library',
        'Permissions and OS Blocks',
        'Persistence Mode',
        'Environment Variables',
        'Graphics Processes',
        'Inforom',
      ]);
    });

    it('falls back to the device id list when the serials are absent', () => {
      const doc = JSON.parse(fixture('dcgm3-r1-pass.json')) as Record<string, unknown>;
      delete doc['GPU Device Serials'];
      expect(parseDcgmDiag(JSON.stringify(doc), 0).gpus_in_run).toEqual([0, 1]);
      delete doc['GPU Device IDs'];
      expect(parseDcgmDiag(JSON.stringify(doc), 0).gpus_in_run).toBeUndefined();
    });

    it('reads string gpu_id, Deployment warnings under "warnings", and string info', () => {
      const s = parseDcgmDiag(fixture('dcgm3-r2-fail.json'), 226);
      expect(s.overall).toBe('fail');
      expect(s.level).toBe(2);
      expect(s.failed_gpus).toEqual([1]);
      const remap = s.results.find((r) => r.test === 'Page Retirement/Row Remap')!;
      expect(remap).toEqual({
        category: 'Deployment',
        test: 'Page Retirement/Row Remap',
        entity_id: 1,
        status: 'fail',
        warnings: [{ message: 'Row remapping is pending on GPU 1; reset the GPU', error_id: 85, error_severity: 2, error_category: 10 }],
      });
      const mem = s.results.find((r) => r.test === 'GPU Memory' && r.entity_id === 1)!;
      expect(mem.warnings[0]!.message).toBe('GPU 1 memory test found 3 mismatches');
      expect(s.results.find((r) => r.test === 'PCIe' && r.entity_id === 0)!.status).toBe('pass');
    });
  });

  describe('unreadable output', () => {
    it('reports invalid JSON as an error', () => {
      const s = parseDcgmDiag('Error: unable to connect to host engine\n{ "DCGM Diagnostic" : ', 255);
      expect(s.overall).toBe('error');
      expect(s.format).toBe('unknown');
      expect(s.runtime_error).toMatch(/^dcgmi exited 255; output is not valid JSON/);
      expect(s.results).toEqual([]);
    });

    it("reports a plain-text refusal in dcgmi's own words", () => {
      const out =
        'Error: unable to establish a connection to the specified host: localhost\nError: Unable to connect to host engine. Host engine connection invalid/disconnected.\n';
      const s = parseDcgmDiag(out, 250);
      expect(s).toMatchObject({ overall: 'error', format: 'unknown', results: [], failed_gpus: [] });
      expect(s.runtime_error).toBe(
        'dcgmi exited 250 (no connection to nv-hostengine): Error: unable to establish a connection to the specified host: localhost Error: Unable to connect to host engine. Host engine connection invalid/disconnected.',
      );
    });

    it('reports empty output as an error', () => {
      const s = parseDcgmDiag('  \n', 204);
      expect(s.overall).toBe('error');
      expect(s.runtime_error).toBe('dcgmi exited 204 (the nvvs binary was not found) with no output');
    });

    it('reports JSON of an unknown shape as an error', () => {
      const s = parseDcgmDiag('{"something":"else"}', 0);
      expect(s.overall).toBe('error');
      expect(s.format).toBe('unknown');
      expect(s.runtime_error).toMatch(/unrecognised dcgmi JSON/);
    });

    it('tolerates a banner line before the document', () => {
      const s = parseDcgmDiag('Successfully ran diagnostic for group.\n' + fixture('dcgm4-r2-pass.json'), 0);
      expect(s.overall).toBe('pass');
    });
  });
});
