import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseKernelXids } from '../../capabilities/gpu/parse-kernel-xids';

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
      message: 'An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x3c1f20a40 partition 2, subpartition 0',
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
      recovery_action: 'node_reboot',
      recovery_action_code: 2,
      recovery_action_text: 'Node Reboot Required',
    });
  });

  it('leaves the recovery fields off every Xid but 154', () => {
    for (const e of events.filter((e) => e.xid !== 154)) {
      expect(e.recovery_action).toBeUndefined();
      expect(e.recovery_action_code).toBeUndefined();
      expect(e.recovery_action_text).toBeUndefined();
    }
  });

  it('reads the journalctl short-precise prefix with its microseconds', () => {
    const [e] = parseKernelXids(
      "Nov 22 10:15:30.517204 gpu-a017 kernel: NVRM: Xid (PCI:0000:4c:00): 79, pid='<unknown>', name=<unknown>, GPU has fallen off the bus.",
    );
    expect(e).toMatchObject({ xid: 79, timestamp: 'Nov 22 10:15:30.517204', message: 'GPU has fallen off the bus.' });
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

  describe('Xid 154 recovery action', () => {
    const line154 = (change: string): string =>
      `2026-11-22T10:15:30.517204+00:00 gpu-a017 kernel: NVRM: Xid (PCI:0008:01:00): 154, GPU recovery action changed from ${change}`;
    const parse154 = (change: string) => {
      const parsed = parseKernelXids(line154(change));
      expect(parsed).toHaveLength(1);
      return parsed[0]!;
    };

    it.each([
      ['0x0 (None) to 0x0 (None)', 'none', 0, 'None'],
      ['0x0 (None) to 0x1 (GPU Reset Required)', 'gpu_reset', 1, 'GPU Reset Required'],
      ['0x0 (None) to 0x2 (Node Reboot Required)', 'node_reboot', 2, 'Node Reboot Required'],
      ['0x0 (None) to 0x3 (Drain P2P)', 'drain_p2p', 3, 'Drain P2P'],
      ['0x0 (None) to 0x4 (Drain and Reset)', 'drain_and_reset', 4, 'Drain and Reset'],
      ['0x4 (Drain and Reset) to 0x0 (None)', 'none', 0, 'None'],
    ] as const)('reads the numeric value: %s', (change, action, code, text) => {
      expect(parse154(change)).toMatchObject({ recovery_action: action, recovery_action_code: code, recovery_action_text: text });
    });

    it("keeps newer drivers' wording as printed and trusts the number", () => {
      expect(parse154('0x0 (None) to 0x2 (OS Reboot)')).toMatchObject({ recovery_action: 'node_reboot', recovery_action_text: 'OS Reboot' });
      expect(parse154('0x0 (None) to 0x1 (PF FLR)')).toMatchObject({ recovery_action: 'gpu_reset', recovery_action_text: 'PF FLR' });
      // Number and words disagree: the number wins, the words are kept.
      expect(parse154('0x0 (None) to 0x1 (Node Reboot Required)')).toMatchObject({
        recovery_action: 'gpu_reset',
        recovery_action_text: 'Node Reboot Required',
      });
    });

    it.each([
      ['None to GPU Reset Required', 'gpu_reset', 'GPU Reset Required'],
      ['None to Node Reboot Required.', 'node_reboot', 'Node Reboot Required'],
      ['None to OS Reboot', 'node_reboot', 'OS Reboot'],
      ['None to PF FLR', 'gpu_reset', 'PF FLR'],
      ['None to Drain P2P', 'drain_p2p', 'Drain P2P'],
      ['None to Drain and Reset', 'drain_and_reset', 'Drain and Reset'],
      ['GPU Reset Required to None', 'none', 'None'],
      // A value past NVML's documented 0..4 falls back to its words.
      ['0x0 (None) to 0x9 (GPU Reset Required)', 'gpu_reset', 'GPU Reset Required'],
    ] as const)('falls back to the text without a usable number: %s', (change, action, text) => {
      const e = parse154(change);
      expect(e).toMatchObject({ recovery_action: action, recovery_action_text: text });
    });

    it('calls actions it cannot read unknown and keeps what it read', () => {
      expect(parse154('0x0 (None) to 0x7 (System Reboot)')).toMatchObject({
        recovery_action: 'unknown',
        recovery_action_code: 7,
        recovery_action_text: 'System Reboot',
      });
      const garbled = parseKernelXids('NVRM: Xid (PCI:0000:01:00): 154, GPU recovery action changed')[0]!;
      expect(garbled).toMatchObject({ recovery_action: 'unknown', recovery_action_text: 'GPU recovery action changed' });
      expect(garbled.recovery_action_code).toBeUndefined();
    });
  });
});
