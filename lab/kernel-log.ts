/**
 * Kernel log of one simulated boot, printed the way `journalctl -k -b 0 -o short-iso`
 * prints it: "2026-11-22T10:15:30+0000 dev-gpu-1 kernel: <message>".
 */
import { DRIVER_VERSION } from './gpus';

export interface KernelLine {
  at: Date;
  message: string;
}

/** journalctl short-iso timestamp, always in UTC here. */
export function shortIso(at: Date): string {
  return `${at.toISOString().slice(0, 19)}+0000`;
}

export function formatJournal(hostname: string, lines: readonly KernelLine[]): string {
  return lines.map((l) => `${shortIso(l.at)} ${hostname} kernel: ${l.message}\n`).join('');
}

/** Ordinary boot messages; none of them is an NVRM line. */
export function bootMessages(hostname: string): string[] {
  return [
    'Linux version 6.8.0-45-generic (buildd@lcy02-amd64-115) (x86_64-linux-gnu-gcc-13 (Ubuntu 13.2.0-23ubuntu4) 13.2.0, GNU ld (GNU Binutils for Ubuntu) 2.42) #45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024',
    'Command line: BOOT_IMAGE=/vmlinuz-6.8.0-45-generic root=/dev/md0 ro iommu=pt pci=realloc=off',
    'DMI: Supermicro SYS-821GE-TNHR/X13DEG-OAD, BIOS 2.1 03/15/2024',
    `systemd-journald[812]: Journal started on ${hostname}`,
    'nvidia: loading out-of-tree module taints kernel.',
    `nvidia-nvlink: Nvlink Core is being initialized, major device number 510 (driver ${DRIVER_VERSION})`,
    'mlx5_core 0000:1a:00.0: Port module event: module 0, Cable plugged',
  ];
}

/** The driver's free-form text after "<xid>, " for the Xids the lab knows by shape. */
function xidDetail(xid: number): string {
  switch (xid) {
    case 13:
      return "pid='<unknown>', name=<unknown>, Graphics SM Warp Exception on (GPC 1, TPC 3, SM 0): Out Of Range Address";
    case 31:
      return 'pid=48211, name=python3, Ch 0000000b, intr 10000000. MMU Fault: ENGINE GRAPHICS GPCCLIENT_T1_0 faulted @ 0x7f3a_40000000. Fault is of type FAULT_PDE ACCESS_TYPE_VIRT_READ';
    case 48:
      return "pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x7fdf0de80 partition 5, subpartition 1";
    case 63:
      return "pid='<unknown>', name=<unknown>, Row Remapper: New row marked for remapping, reset gpu to activate.";
    case 64:
      return "pid='<unknown>', name=<unknown>, Row Remapper: Failed to mark a row for remapping, reset gpu to activate.";
    case 74:
      return "pid='<unknown>', name=<unknown>, NVLink: fatal error detected on link 1";
    case 79:
      return 'GPU has fallen off the bus.';
    case 94:
      return 'pid=7062, name=python3, Contained: CE User Channel (0x9). RST: No, D-RST: No';
    case 95:
      return 'pid=7062, name=python3, Uncontained: LTC TAG (0x2,0x0). RST: Yes, D-RST: No';
    case 119:
      return 'pid=2024380, name=nvidia-smi, Timeout after 6s of waiting for RPC response from GPU4 GSP! Expected function 103 (GSP_RM_ALLOC) (0x2081 0x4).';
    case 171:
      return "pid='<unknown>', name=<unknown>, Uncorrectable DRAM error in FBPA 3 subpartition 0 physAddr 0xe9b9107e0";
    default:
      return "pid='<unknown>', name=<unknown>, Channel ID 0000000d intr0 00040000";
  }
}

/** "NVRM: Xid (PCI:0000:18:00): 48, pid='<unknown>', name=<unknown>, ..." */
export function xidMessage(kernelPci: string, xid: number): string {
  return `NVRM: Xid (PCI:${kernelPci}): ${xid}, ${xidDetail(xid)}`;
}
