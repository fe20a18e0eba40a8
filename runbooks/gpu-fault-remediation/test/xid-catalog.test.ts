import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FAULT_ACTIONS } from '../input';
import { XID_CATALOG, lookupXid } from '../policies/xid-catalog';

const REFERENCE = resolve(__dirname, '../../../../shared/reference/xid-catalog.json');
const hasReference = existsSync(REFERENCE);

interface ReferenceEntry {
  xid: number;
  name: string;
  category: string;
  severity: string;
  recommended_action: string;
}

describe('XID_CATALOG', () => {
  it('has unique xids in ascending order', () => {
    const xids = XID_CATALOG.map((e) => e.xid);
    expect(new Set(xids).size).toBe(xids.length);
    expect([...xids].sort((a, b) => a - b)).toEqual(xids);
    expect(xids.length).toBe(49);
  });

  it('uses only known fault actions, severities and categories', () => {
    for (const e of XID_CATALOG) {
      expect(FAULT_ACTIONS).toContain(e.recommended_action);
      expect(['info', 'warning', 'critical']).toContain(e.severity);
      expect(e.name.length).toBeGreaterThan(3);
    }
  });

  it('maps the well-known Xids to the expected actions', () => {
    expect(lookupXid(79)).toMatchObject({ recommended_action: 'reboot_node', category: 'hardware', severity: 'critical' });
    expect(lookupXid(48)).toMatchObject({ recommended_action: 'reset_gpu', category: 'memory' });
    expect(lookupXid(45)?.recommended_action).toBe('none');
    expect(lookupXid(13)?.recommended_action).toBe('restart_app');
    expect(lookupXid(154)?.recommended_action).toBe('drain_and_diagnose');
    expect(lookupXid(157)?.recommended_action).toBe('rma_candidate');
    expect(lookupXid(94)?.name).toMatch(/Contained memory error/);
  });

  it('returns undefined for an Xid it does not know', () => {
    expect(lookupXid(9999)).toBeUndefined();
    expect(lookupXid(1)).toBeUndefined();
  });

  it('is frozen so callers cannot edit it', () => {
    expect(Object.isFrozen(XID_CATALOG)).toBe(true);
  });

  it('has no runtime imports (it is bundled into workflow code)', () => {
    const source = readFileSync(join(__dirname, '../policies/xid-catalog.ts'), 'utf8');
    const imports = source.split('\n').filter((l) => /^\s*import\b/.test(l));
    for (const line of imports) expect(line).toMatch(/^import type /);
    expect(source).not.toMatch(/require\(|\.json['"]/);
  });

  (hasReference ? it : it.skip)(
    hasReference ? 'matches every entry of the reference xid-catalog.json' : `matches the reference catalogue (SKIPPED: ${REFERENCE} not found)`,
    () => {
      const reference = JSON.parse(readFileSync(REFERENCE, 'utf8')) as ReferenceEntry[];
      expect(XID_CATALOG).toHaveLength(reference.length);
      for (const ref of reference) {
        const entry = lookupXid(ref.xid);
        expect(entry).toEqual({
          xid: ref.xid,
          name: ref.name,
          category: ref.category,
          severity: ref.severity,
          recommended_action: ref.recommended_action,
        });
      }
    },
  );
});
