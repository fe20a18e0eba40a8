import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKernelXids } from '../../activities/gpu/parse-kernel-xids';

const fixture = (name: string): string => readFileSync(join(__dirname, '../fixtures/gpu/kernel', name), 'utf8');

describe('parseKernelXids', () => {
  const events = parseKernelXids(fixture('mixed-prefixes.txt'));

  it('finds every Xid line and nothing else', () => {
    expect(events.map((e) => [e.xid, e.pci_bus_id])).toEqual([
      [48, '0000:5d:00'],
      [13, '0000:9b:00'],
      [63, '0000:5d:00'],
      [45, '0000:9b:00'],
      [31, '0000:3b:00'],
      [119, '0000:bb:00'],
      [94, '0000:cb:00'],
      [79, '0000:4c:00'],
      [154, '0000:4c:00'],
      [46, '0000:db:00'],
      [74, '0000:19:00'],
    ]);
  });

  it('reads the dmesg seconds-since-boot prefix and unknown pid/name', () => {
    expect(events[0]).toEqual({
      xid: 48,
      pci_bus_id: '0000:5d:00',
      timestamp: '5107.644349',
      message:
        'An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x3c1f20a40 partition 2, subpartition 0',
      raw: expect.stringContaining("NVRM: Xid (PCI:0000:5d:00): 48, pid='<unknown>'"),
    });
    expect(events[0]!.pid).toBeUndefined();
    expect(events[0]!.process_name).toBeUndefined();
  });

  it('reads pid and process name', () => {
    expect(events[1]).toMatchObject({ pid: 88213, process_name: 'python3', message: expect.stringMatching(/^Graphics SM Warp Exception/) });
    expect(events[5]).toMatchObject({ xid: 119, pid: 2024380, process_name: 'nvidia-smi', timestamp: 'Nov 22 10:16:02' });
  });

  it('reads a pid without a process name', () => {
    expect(events[2]).toMatchObject({ xid: 63, pid: 88213, message: 'Row Remapper: New row marked for remapping, reset gpu to activate.' });
    expect(events[2]!.process_name).toBeUndefined();
  });

  it('reads the dmesg -T prefix and the old device spelling', () => {
    expect(events[4]).toMatchObject({
      xid: 31,
      pci_bus_id: '0000:3b:00',
      timestamp: 'Sun Nov 22 10:15:31 2026',
      message: 'Ch 0000000b, engmask 00000120, intr 10000000',
    });
    expect(events[4]!.pid).toBeUndefined();
  });

  it('prefers the syslog time over the dmesg stamp and strips the MIG suffix', () => {
    expect(events[6]).toMatchObject({
      xid: 94,
      pci_bus_id: '0000:cb:00',
      timestamp: 'Nov  2 09:01:07',
      pid: 7194,
      message: 'Contained: CE User Channel (0x9). RST: No, D-RST: No',
    });
  });

  it('reads journalctl short-iso prefixes, with and without fractions', () => {
    expect(events[7]).toMatchObject({ xid: 79, timestamp: '2026-11-22T10:15:30+0000', message: 'GPU has fallen off the bus.' });
    expect(events[8]).toMatchObject({
      xid: 154,
      timestamp: '2026-11-22T10:15:30.517204+00:00',
      message: 'GPU recovery action changed from 0x0 (None) to 0x2 (Node Reboot Required)',
    });
  });

  it('reads the minimal code-only form', () => {
    expect(events[9]).toMatchObject({ xid: 46, pci_bus_id: '0000:db:00', message: '' });
  });

  it('keeps the NVLink register tuple in the message', () => {
    expect(events[10]!.message).toBe('NVLink: fatal error detected on link 7(0x0, 0x0, 0x10000, 0x0, 0x0, 0x0, 0x0)');
  });

  it('handles bare lines with no prefix, CRLF endings and non-zero PCI domains', () => {
    const text =
      'NVRM: Xid (PCI:0018:01:00): 149, NETIR_LINK_EVT  Fatal   XC0 i0 Link 09 (0x025525c6 0x00000000)\r\n' +
      'NVRM: Xid (PCI:0000:01:00 GPU-I:05): 94, pid=7194, Contained: CE User Channel (0x9). RST: No, D-RST: No\r\n';
    const parsed = parseKernelXids(text);
    expect(parsed).toHaveLength(2);
    expect(parsed[0]).toMatchObject({ xid: 149, pci_bus_id: '0018:01:00', message: 'NETIR_LINK_EVT  Fatal   XC0 i0 Link 09 (0x025525c6 0x00000000)' });
    expect(parsed[0]!.timestamp).toBeUndefined();
    expect(parsed[1]).toMatchObject({ xid: 94, pci_bus_id: '0000:01:00' });
  });

  it('returns nothing for logs without Xids', () => {
    expect(parseKernelXids('')).toEqual([]);
    expect(
      parseKernelXids(
        '[    6.902114] NVRM: loading NVIDIA UNIX x86_64 Kernel Module  550.90.07\n' +
          'NVRM: GPU 0000:2b:00.0: GPU has fallen off the bus.\n' +
          'nvidia-nvswitch0: SXid (PCI:0000:05:00.0): 12028, Non-fatal, Link 32 egress non-posted PRIV error\n',
      ),
    ).toEqual([]);
  });
});
