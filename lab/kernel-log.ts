/**
 * Kernel log of one simulated boot: explicit lines (boot messages, Xids) and blocks
 * of background noise. Entries carry microsecond timestamps like journald does.
 * Noise is stored as a recipe (seed, line count, time span) and regenerated when
 * read, so a 64 MiB log costs a few numbers of memory, not 64 MiB of strings.
 */
import { DRIVER_VERSION } from './gpus';

export interface KernelLine {
  /** Microseconds since the epoch (journald's realtime clock). */
  us: number;
  message: string;
}

interface NoiseBlock {
  noise: true;
  seed: number;
  count: number;
  /** Lines are spread over (fromUs, toUs]. */
  fromUs: number;
  toUs: number;
  /** Wall-clock second the block was logged at; audit records quote it. */
  baseSec: number;
}

type Entry = KernelLine | NoiseBlock;

const isNoise = (e: Entry): e is NoiseBlock => 'noise' in e;

/** The most a single noise request may add, and what a whole boot may hold. */
export const MAX_NOISE_BYTES = 64 * 1024 * 1024;

export class KernelJournal {
  private readonly entries: Entry[] = [];
  private lastUs = 0;
  private lines = 0;
  private noiseSeq = 0;

  constructor(private readonly hostname: string) {}

  get lineCount(): number {
    return this.lines;
  }

  /** Logs one line at `at` (journald never goes backwards within a boot). */
  append(at: Date, message: string): KernelLine {
    const line = { us: Math.max(at.getTime() * 1000, this.lastUs + 1), message };
    this.lastUs = line.us;
    this.entries.push(line);
    this.lines++;
    return line;
  }

  /**
   * Adds about `bytes` of ordinary kernel chatter (as printed by -o short-iso-precise),
   * timed between the previous entry and `at`, as if it had trickled in meanwhile.
   */
  appendNoise(at: Date, bytes: number): { lines: number; bytes: number } {
    const seed = (hashString(this.hostname) ^ Math.imul(++this.noiseSeq, 0x9e3779b1)) >>> 0;
    const baseSec = Math.floor(at.getTime() / 1000);
    const perLine = PRECISE_PREFIX_LEN + this.hostname.length + KERNEL_TAG.length + 1;
    let count = 0;
    let total = 0;
    while (total < bytes) total += perLine + noiseMessage(seed, count++, baseSec).length;
    if (count === 0) return { lines: 0, bytes: 0 };
    const toUs = Math.max(at.getTime() * 1000, this.lastUs + 1);
    this.entries.push({ noise: true, seed, count, fromUs: this.lastUs, toUs, baseSec });
    this.lastUs = toUs;
    this.lines += count;
    return { lines: count, bytes: total };
  }

  /** Every line at or after `sinceUs`, oldest first. */
  *read(sinceUs = -Infinity): Generator<KernelLine> {
    for (const e of this.entries) {
      if (!isNoise(e)) {
        if (e.us >= sinceUs) yield e;
        continue;
      }
      if (e.toUs < sinceUs) continue;
      const span = e.toUs - e.fromUs;
      for (let i = 0; i < e.count; i++) {
        const us = e.fromUs + Math.max(1, Math.floor((span * (i + 1)) / e.count));
        if (us >= sinceUs) yield { us, message: noiseMessage(e.seed, i, e.baseSec) };
      }
    }
  }

  last(): KernelLine | undefined {
    const e = this.entries[this.entries.length - 1];
    if (!e) return undefined;
    if (!isNoise(e)) return e;
    return { us: e.toUs, message: noiseMessage(e.seed, e.count - 1, e.baseSec) };
  }
}

const KERNEL_TAG = ' kernel: ';
/** "2026-11-22T10:15:30.123456+0000 " */
const PRECISE_PREFIX_LEN = 32;

const pad = (n: number, width: number) => String(n).padStart(width, '0');

function isoSeconds(us: number): string {
  return new Date(Math.floor(us / 1000)).toISOString().slice(0, 19);
}

/** journalctl -o short-iso: "2026-11-22T10:15:30+0000" (this lab's hosts run in UTC). */
export function shortIso(us: number): string {
  return `${isoSeconds(us)}+0000`;
}

/** journalctl -o short-iso-precise: "2026-11-22T10:15:30.123456+0000". */
export function shortIsoPrecise(us: number): string {
  return `${isoSeconds(us)}.${pad(((us % 1_000_000) + 1_000_000) % 1_000_000, 6)}+0000`;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** journalctl -o short: "Nov 22 10:15:30". */
export function shortSyslog(us: number): string {
  const d = new Date(Math.floor(us / 1000));
  return `${MONTHS[d.getUTCMonth()]} ${pad(d.getUTCDate(), 2)} ${d.toISOString().slice(11, 19)}`;
}

/** journalctl -o short-precise: "Nov 22 10:15:30.123456". */
export function shortPrecise(us: number): string {
  return `${shortSyslog(us)}.${pad(us % 1_000_000, 6)}`;
}

export type JournalFormat = 'short' | 'short-precise' | 'short-iso' | 'short-iso-precise';

export const JOURNAL_FORMATS: Record<JournalFormat, (us: number) => string> = {
  short: shortSyslog,
  'short-precise': shortPrecise,
  'short-iso': shortIso,
  'short-iso-precise': shortIsoPrecise,
};

export function formatLine(format: JournalFormat, hostname: string | null, line: KernelLine): string {
  const host = hostname === null ? '' : ` ${hostname}`;
  return `${JOURNAL_FORMATS[format](line.us)}${host} kernel: ${line.message}\n`;
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

/** NVML's recovery actions as the driver prints them in Xid 154 (value, text). */
export const RECOVERY_ACTIONS = {
  none: { code: 0, text: 'None' },
  gpu_reset: { code: 1, text: 'GPU Reset Required' },
  node_reboot: { code: 2, text: 'Node Reboot Required' },
  drain_p2p: { code: 3, text: 'Drain P2P' },
  drain_and_reset: { code: 4, text: 'Drain and Reset' },
} as const;

export type RecoveryAction = keyof typeof RECOVERY_ACTIONS;

const actionText = (a: RecoveryAction) => `0x${RECOVERY_ACTIONS[a].code.toString(16)} (${RECOVERY_ACTIONS[a].text})`;

/** "NVRM: Xid (PCI:0000:18:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)" */
export function recoveryActionMessage(kernelPci: string, from: RecoveryAction, to: RecoveryAction): string {
  return `NVRM: Xid (PCI:${kernelPci}): 154, GPU recovery action changed from ${actionText(from)} to ${actionText(to)}`;
}

// ---------------------------------------------------------------------------------------------
// Noise: what a busy GPU server's kernel log is mostly made of. No line mentions the
// NVIDIA driver, so it never matches an Xid search, whatever the case.

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** A small deterministic generator for line `i` of a block (splitmix-style mixing). */
function lineRandom(seed: number, i: number): () => number {
  let x = (seed ^ Math.imul(i + 1, 0x85ebca6b)) >>> 0;
  return () => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = x;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Pick = <T>(xs: readonly T[]) => T;

const IFACES = ['ens1f0np0', 'ens1f1np1', 'ibp26s0', 'ibp60s0', 'eno1'];
const MLX_PCI = ['0000:1a:00.0', '0000:3c:00.0', '0000:4d:00.0', '0000:5e:00.0'];
const PROFILES = ['snap.lxd.daemon', 'rsyslogd', 'snap.prometheus-node-exporter.node-exporter', '/usr/sbin/chronyd'];
const COMMS = ['node_exporter', 'lxd', 'chronyd', 'rsyslogd', 'kubelet', 'containerd'];
const NFS_SERVERS = ['10.20.0.5', '10.20.0.6', 'nfs-home.dc1'];

const NOISE_TEMPLATES: ((r: () => number, pick: Pick, baseSec: number, i: number) => string)[] = [
  (r, pick, baseSec, i) => {
    const pid = 1000 + Math.floor(r() * 90000);
    return `audit: type=1400 audit(${baseSec}.${pad(Math.floor(r() * 1000), 3)}:${4000 + i}): apparmor="DENIED" operation="open" class="file" profile="${pick(PROFILES)}" name="/proc/${pid}/cgroup" pid=${pid} comm="${pick(COMMS)}" requested_mask="r" denied_mask="r" fsuid=0 ouid=0`;
  },
  (r) =>
    `EXT4-fs (md0): Delayed block allocation failed for inode ${100000 + Math.floor(r() * 9000000)} at logical offset ${Math.floor(r() * 65536)} with max blocks 2 with error 28`,
  (r) =>
    `EXT4-fs (nvme${Math.floor(r() * 4)}n1p1): mounted filesystem ${hex(r, 8)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 4)}-${hex(r, 12)} r/w with ordered data mode. Quota mode: none.`,
  (r, pick) => `mlx5_core ${pick(MLX_PCI)}: mlx5_fw_tracer_handle_traces:736:(pid ${200 + Math.floor(r() * 3000)}): FWTracer: Events were lost`,
  (r, pick) => `mlx5_core ${pick(MLX_PCI)} ${pick(IFACES)}: Link ${r() < 0.5 ? 'down' : 'up'}`,
  (_r, pick) => `IPv6: ADDRCONF(NETDEV_CHANGE): ${pick(IFACES)}: link becomes ready`,
  (r, pick) => (r() < 0.7 ? `nfs: server ${pick(NFS_SERVERS)} not responding, still trying` : `nfs: server ${pick(NFS_SERVERS)} OK`),
  (r) => {
    const took = 2501 + Math.floor(r() * 4000);
    return `perf: interrupt took too long (${took} > 2500), lowering kernel.perf_event_max_sample_rate to ${Math.floor(20_000_000 / took) * 10}`;
  },
  (r) => `usb 1-1.${1 + Math.floor(r() * 4)}: new high-speed USB device number ${2 + Math.floor(r() * 30)} using xhci_hcd`,
  (r) => `usb 1-1.${1 + Math.floor(r() * 4)}: USB disconnect, device number ${2 + Math.floor(r() * 30)}`,
  (r) => `cni0: port ${1 + Math.floor(r() * 40)}(veth${hex(r, 8)}) entered ${r() < 0.5 ? 'blocking' : 'forwarding'} state`,
  (r) =>
    `[UFW BLOCK] IN=eno1 OUT= MAC=3c:ec:ef:${hex(r, 2)}:${hex(r, 2)}:${hex(r, 2)}:b4:96:91:${hex(r, 2)}:${hex(r, 2)}:${hex(r, 2)}:08:00 SRC=10.20.${Math.floor(r() * 8)}.${1 + Math.floor(r() * 250)} DST=10.20.3.17 LEN=60 TOS=0x00 PREC=0x00 TTL=63 ID=${Math.floor(r() * 65535)} DF PROTO=TCP SPT=${32768 + Math.floor(r() * 28000)} DPT=${pickPort(r)} WINDOW=64240 RES=0x00 SYN URGP=0`,
  (r) => `nvme nvme${Math.floor(r() * 4)}: I/O ${Math.floor(r() * 1024)} QID ${1 + Math.floor(r() * 63)} timeout, completion polled`,
  (r) => `TCP: request_sock_TCP: Possible SYN flooding on port ${pickPort(r)}. Sending cookies.  Check SNMP counters.`,
  (r) => `IPVS: rr: TCP 10.96.${Math.floor(r() * 255)}.${1 + Math.floor(r() * 254)}:443 - no destination available`,
];

const PORTS = [22, 443, 8080, 9100, 9400, 10250];
const pickPort = (r: () => number) => PORTS[Math.floor(r() * PORTS.length)] ?? 22;

function hex(r: () => number, digits: number): string {
  let s = '';
  for (let i = 0; i < digits; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

function noiseMessage(seed: number, i: number, baseSec: number): string {
  const r = lineRandom(seed, i);
  const pick: Pick = (xs) => xs[Math.floor(r() * xs.length)] as (typeof xs)[number];
  const template = NOISE_TEMPLATES[Math.floor(r() * NOISE_TEMPLATES.length)] ?? NOISE_TEMPLATES[0]!;
  return template(r, pick, baseSec, i);
}
