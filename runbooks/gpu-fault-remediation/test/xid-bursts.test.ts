import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKernelXids } from '../../../capabilities/gpu/parse-kernel-xids';
import { groupXidBursts, readXidTimestamp, secondsBetween } from '../policies/xid-bursts';

const fixture = (name: string): string => readFileSync(join(__dirname, '../../../test/fixtures/gpu/kernel', name), 'utf8');
const gap = (a: string, b: string): number | null => secondsBetween(readXidTimestamp(a)!, readXidTimestamp(b)!);

describe('readXidTimestamp', () => {
  it('reads every prefix form the kernel log parser keeps', () => {
    expect(readXidTimestamp('2026-11-22T10:15:30+0000')).toMatchObject({ clock: 'utc' });
    expect(readXidTimestamp('2026-11-22T10:15:30.517204+00:00')).toMatchObject({ clock: 'utc' });
    expect(readXidTimestamp('2026-11-22T10:15:30Z')).toMatchObject({ clock: 'utc' });
    expect(readXidTimestamp('2026-11-22T10:15:30')).toMatchObject({ clock: 'local' });
    expect(readXidTimestamp('Sun Nov 22 10:15:31 2026')).toMatchObject({ clock: 'local' });
    expect(readXidTimestamp('Nov  2 09:01:07')).toMatchObject({ clock: 'local_no_year' });
    expect(gap('Nov 22 10:15:30', 'Nov 22 10:15:30.517204')).toBeCloseTo(0.517204, 6);
    expect(readXidTimestamp('5107.644349')).toEqual({ clock: 'boot', seconds: 5107.644349 });
  });

  it('returns null for text it does not know', () => {
    expect(readXidTimestamp('yesterday')).toBeNull();
    expect(readXidTimestamp('2026-13-01T00:00:00Z')).toBeNull();
    expect(readXidTimestamp('Foo 22 10:15:31')).toBeNull();
  });
});

describe('secondsBetween', () => {
  it('compares journal times across offsets and keeps microseconds', () => {
    expect(gap('2026-11-22T10:15:30+0000', '2026-11-22T11:15:31+01:00')).toBe(1);
    expect(gap('2026-11-22T10:15:30-05:30', '2026-11-22T15:45:30Z')).toBe(0);
    expect(gap('2026-11-22T10:15:30.000000+00:00', '2026-11-22T10:15:30.000001+00:00')).toBeCloseTo(0.000001, 6);
    expect(gap('2026-11-22T10:15:30.000000+00:00', '2026-11-22T10:15:30.000001+00:00')).toBeGreaterThan(0);
  });

  it('counts calendar days, leap days and the turn of the year', () => {
    expect(gap('2028-02-28T23:59:00Z', '2028-03-01T00:00:00Z')).toBe(86_400 + 60);
    expect(gap('2026-12-31T23:59:59Z', '2027-01-01T00:00:00Z')).toBe(1);
    expect(gap('Sun Nov 22 23:59:00 2026', 'Mon Nov 23 00:01:00 2026')).toBe(120);
    // syslog prints no year: Dec 31 → Jan 1 is one second, not minus a year.
    expect(gap('Dec 31 23:59:59', 'Jan  1 00:00:00')).toBe(1);
  });

  it('refuses to compare different clocks', () => {
    expect(gap('5107.644349', '2026-11-22T10:15:30Z')).toBeNull();
    expect(gap('Nov 22 10:15:30', 'Sun Nov 22 10:15:31 2026')).toBeNull();
    expect(gap('2026-11-22T10:15:30', '2026-11-22T10:15:30Z')).toBeNull();
  });
});

describe('groupXidBursts', () => {
  it('groups by GPU, not by time, and keeps log order', () => {
    const bursts = groupXidBursts(
      parseKernelXids(
        [
          "2026-11-22T10:15:30.102311+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 48, pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x3c1f20a40 partition 2, subpartition 0",
          '2026-11-22T10:15:30.102402+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:9b:00): 13, pid=88213, name=python3, Graphics SM Warp Exception on (GPC 4, TPC 1, SM 1): Out Of Range Address',
          '2026-11-22T10:15:30.110257+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 63, pid=88213, Row Remapper: New row marked for remapping, reset gpu to activate.',
          '2026-11-22T10:15:30.517204+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:5d:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)',
        ].join('\n'),
      ),
    );
    expect(bursts.map((b) => [b.pci_bus_id, b.events.map((e) => e.xid)])).toEqual([
      ['0000:5d:00', [48, 63, 154]],
      ['0000:9b:00', [13]],
    ]);
  });

  it('measures the window from the last line of the burst, not its first', () => {
    const at = (time: string) =>
      `2026-11-22T${time}+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0000:bb:00): 119, pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU5 GSP! Expected function 76 (GSP_RM_CONTROL) (0x2080014b 0x5).`;
    const events = parseKernelXids([at('10:00:00'), at('10:02:30'), at('10:05:00'), at('10:08:01')].join('\n'));
    expect(groupXidBursts(events).map((b) => b.events.map((e) => e.timestamp))).toEqual([
      ['2026-11-22T10:00:00+00:00', '2026-11-22T10:02:30+00:00', '2026-11-22T10:05:00+00:00'],
      ['2026-11-22T10:08:01+00:00'],
    ]);
  });

  it('starts a new burst when dmesg time jumps back (a new boot)', () => {
    const events = parseKernelXids(
      [
        "[ 5107.644349] NVRM: Xid (PCI:0000:4c:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
        "[   92.118023] NVRM: Xid (PCI:0000:4c:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
      ].join('\n'),
    );
    expect(groupXidBursts(events)).toHaveLength(2);
  });

  it('keeps lines whose times cannot be compared in the open burst', () => {
    // The mixed fixture has GPU 0000:9b:00 once in dmesg seconds and once in dmesg -T time.
    const bursts = groupXidBursts(parseKernelXids(fixture('mixed-prefixes.txt')));
    expect(bursts.find((b) => b.pci_bus_id === '0000:9b:00')!.events.map((e) => e.xid)).toEqual([13, 45]);
    expect(bursts).toHaveLength(8);
  });
});
