/**
 * sinfo and scontrol (Slurm 23.11) against the lab's slurmctld: sinfo's default
 * table, -N, -h, -o/--format with Slurm's field widths ("%.6t" right-justified,
 * "%-10N" / "%10N" left, "%#P" as wide as needed), -n, -p, -t, -R; `scontrol show
 * node [NAME]` key=value blocks (-o one line each) and `scontrol ping`.
 */
import { fail, ok, type CommandResult } from '../../command-types';
import { SLURM_PARTITION, SLURM_VERSION } from '../fleet';
import { NODE_HARDWARE, type NodeState, type SlurmCluster, type SlurmNode } from '../slurm-cluster';

/** Real durations, in ms (one RPC to slurmctld). */
export const SLURM_RPC_MS = 40;

const CTLD_DOWN = 'Unable to contact slurm controller (connect failure)';

/** j27u15,j27u17,j27u18 → j27u[15,17-18] (Slurm's hostlist form). */
export function compressHostlist(names: readonly string[]): string {
  const groups = new Map<string, { n: number; width: number }[]>();
  const plain: string[] = [];
  for (const name of names) {
    const m = /^(.*?)(\d+)$/.exec(name);
    if (!m) {
      plain.push(name);
      continue;
    }
    const key = `${m[1]}|${m[2]!.length}`;
    groups.set(key, [...(groups.get(key) ?? []), { n: Number(m[2]), width: m[2]!.length }]);
  }
  const out = [...plain];
  for (const [key, nums] of groups) {
    const prefix = key.split('|')[0] ?? '';
    const sorted = [...new Set(nums.map((x) => x.n))].sort((a, b) => a - b);
    const width = nums[0]?.width ?? 0;
    const fmt = (n: number) => String(n).padStart(width, '0');
    const ranges: string[] = [];
    for (let i = 0; i < sorted.length; i++) {
      let j = i;
      while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
      ranges.push(i === j ? fmt(sorted[i]!) : `${fmt(sorted[i]!)}-${fmt(sorted[j]!)}`);
      i = j;
    }
    out.push(sorted.length === 1 ? `${prefix}${ranges[0]}` : `${prefix}[${ranges.join(',')}]`);
  }
  return out.join(',');
}

/** j27u[15,17-18],x1 → [j27u15, j27u17, j27u18, x1] */
export function expandHostlist(expr: string): string[] {
  const out: string[] = [];
  for (const part of expr.match(/[^,[]+(\[[^\]]*\])?[^,]*/g) ?? []) {
    const m = /^(.*)\[([^\]]*)\](.*)$/.exec(part);
    if (!m) {
      out.push(part);
      continue;
    }
    for (const r of (m[2] ?? '').split(',')) {
      const [a = '', b] = r.split('-');
      const lo = Number(a);
      const hi = b === undefined ? lo : Number(b);
      for (let n = lo; n <= hi; n++) out.push(`${m[1]}${String(n).padStart(a.length, '0')}${m[3]}`);
    }
  }
  return out;
}

/** sinfo's compact (%t) and long (%T) state names. */
function stateNames(s: NodeState): { compact: string; long: string } {
  const star = s.notResponding ? '*' : '';
  if (s.base === 'UNKNOWN') return { compact: `unk${star}`, long: `unknown${star}` };
  return { compact: `${s.base.toLowerCase()}${star}`, long: `${s.base.toLowerCase()}${star}` };
}

interface Row {
  nodes: SlurmNode[];
  state: NodeState;
}

const HEADERS: Record<string, string> = {
  N: 'NODELIST',
  n: 'HOSTNAMES',
  o: 'NODE_ADDR',
  D: 'NODES',
  P: 'PARTITION',
  R: 'PARTITION',
  a: 'AVAIL',
  l: 'TIMELIMIT',
  t: 'STATE',
  T: 'STATE',
  G: 'GRES',
  c: 'CPUS',
  C: 'CPUS(A/I/O/T)',
  m: 'MEMORY',
  e: 'FREE_MEM',
  f: 'AVAIL_FEATURES',
  z: 'S:C:T',
  E: 'REASON',
  O: 'CPU_LOAD',
};

function field(code: string, row: Row | null, defaultPartition: boolean): string {
  const nodes = row?.nodes ?? [];
  const hw = NODE_HARDWARE;
  const names = stateNames(row?.state ?? { base: 'UNKNOWN', notResponding: false, reason: null });
  const noNodes = nodes.length === 0;
  switch (code) {
    case 'N':
      return compressHostlist(nodes.map((n) => n.name));
    case 'n':
      return compressHostlist(nodes.map((n) => n.hostname));
    case 'o':
      return nodes.map((n) => n.addr).join(',');
    case 'D':
      return String(nodes.length);
    case 'P':
      return `${SLURM_PARTITION}${defaultPartition ? '*' : ''}`;
    case 'R':
      return SLURM_PARTITION;
    case 'a':
      return 'up';
    case 'l':
      return 'infinite';
    case 't':
      return noNodes ? 'n/a' : names.compact;
    case 'T':
      return noNodes ? 'n/a' : names.long;
    case 'G':
      return noNodes ? '(null)' : hw.gres;
    case 'c':
      return String(hw.cpus);
    case 'C':
      return `0/${hw.cpus * nodes.length}/0/${hw.cpus * nodes.length}`;
    case 'm':
      return String(hw.realMemory);
    case 'e':
      return row?.state.notResponding ? 'N/A' : '2011853';
    case 'f':
      return 'h100';
    case 'z':
      return `${hw.sockets}:${hw.coresPerSocket}:${hw.threadsPerCore}`;
    case 'E':
      return row?.state.reason ?? 'none';
    case 'O':
      return row?.state.notResponding ? 'N/A' : '0.48';
    default:
      return '';
  }
}

type Token = { text: string } | { code: string; width?: number; right: boolean; fit: boolean };

function parseFormat(fmt: string): Token[] | undefined {
  const tokens: Token[] = [];
  const re = /%(#)?(\.)?(-)?(\d+)?([A-Za-z])|([^%]+)|%%/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(fmt))) {
    if (m[6] !== undefined) tokens.push({ text: m[6] });
    else if (m[5] !== undefined) {
      if (!(m[5] in HEADERS)) return undefined;
      tokens.push({ code: m[5], width: m[4] ? Number(m[4]) : undefined, right: m[2] === '.', fit: m[1] === '#' });
    } else tokens.push({ text: '%' });
  }
  return tokens;
}

function render(tokens: Token[], rows: (Row | null)[], header: boolean, defaultPartition: boolean): string {
  const values = (row: Row | null) => tokens.map((t) => ('code' in t ? field(t.code, row, defaultPartition) : t.text));
  const lines = rows.map(values);
  const heads = tokens.map((t) => ('code' in t ? (HEADERS[t.code] ?? '') : t.text));
  const widths = tokens.map((t, i) => {
    if (!('code' in t)) return 0;
    if (t.fit) return Math.max(heads[i]!.length, ...lines.map((l) => l[i]!.length));
    return t.width ?? 0;
  });
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const t = tokens[i]!;
        if (!('code' in t)) return c;
        const w = widths[i] ?? 0;
        return t.right ? c.padStart(w) : c.padEnd(w);
      })
      .join('');
  const out = header ? [line(heads)] : [];
  for (const l of lines) out.push(line(l));
  return out.map((l) => `${l}\n`).join('');
}

export function sinfo(cluster: SlurmCluster, args: readonly string[]): CommandResult {
  let header = true;
  let perNode = false;
  let reasons = false;
  let format: string | undefined;
  let nodeFilter: Set<string> | undefined;
  let stateFilter: Set<string> | undefined;
  let partition: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    const val = (long: string, short: string): string | undefined => {
      if (a === long || a === short) return args[++i];
      if (a.startsWith(`${long}=`)) return a.slice(long.length + 1);
      if (a.startsWith(short) && a.length > 2) return a.slice(2);
      return undefined;
    };
    if (a === '-h' || a === '--noheader') header = false;
    else if (a === '-N' || a === '--Node') perNode = true;
    else if (a === '-R' || a === '--list-reasons') reasons = true;
    else if (a === '-V' || a === '--version') return ok(`slurm ${SLURM_VERSION}\n`);
    else if (/^-[hN]+$/.test(a)) {
      header &&= !a.includes('h');
      perNode ||= a.includes('N');
    } else if (a === '-o' || a === '--format' || a.startsWith('--format=') || (a.startsWith('-o') && a.length > 2)) format = val('--format', '-o');
    else if (a === '-n' || a === '--nodes' || a.startsWith('--nodes=') || (a.startsWith('-n') && a.length > 2))
      nodeFilter = new Set(expandHostlist(val('--nodes', '-n') ?? ''));
    else if (a === '-p' || a === '--partition' || a.startsWith('--partition=') || (a.startsWith('-p') && a.length > 2)) partition = val('--partition', '-p');
    else if (a === '-t' || a === '--states' || a.startsWith('--states=') || (a.startsWith('-t') && a.length > 2)) {
      stateFilter = new Set((val('--states', '-t') ?? '').toLowerCase().split(','));
    } else
      return fail(
        1,
        `sinfo: ${a.startsWith('--') ? `unrecognized option '${a}'` : `invalid option -- '${a.slice(1, 2)}'`}\nTry "sinfo --help" for more information\n`,
      );
  }
  if (!cluster.ctldRunning()) return fail(1, `slurm_load_partitions: ${CTLD_DOWN}\n`);
  if (partition !== undefined && partition !== SLURM_PARTITION) return ok(header ? 'PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\n' : '');
  const now = new Date();
  let nodes = cluster.list().sort((a, b) => a.name.localeCompare(b.name));
  if (nodeFilter) nodes = nodes.filter((n) => nodeFilter.has(n.name));
  const withState = nodes.map((n) => ({ n, s: cluster.state(n, now) }));
  const filtered = stateFilter
    ? withState.filter(({ s }) => {
        const names = stateNames(s);
        return stateFilter.has(s.base.toLowerCase()) || stateFilter.has(names.long) || stateFilter.has(names.compact);
      })
    : withState;
  if (reasons) {
    const down = filtered.filter(({ s }) => s.reason);
    const rows = down.map(({ n, s }) => `${(s.reason ?? '').padEnd(20)} slurm     ${(s.reason ?? '').replace(/.*@(.*)\]$/, '$1').padEnd(19)} ${n.name}\n`);
    return ok(`${header ? 'REASON               USER      TIMESTAMP           NODELIST\n' : ''}${rows.join('')}`);
  }
  const fmt = format ?? (perNode ? '%#N %.6D %#P %.6t' : '%#P %.5a %.10l %.6D %.6t %N');
  const tokens = parseFormat(fmt);
  if (!tokens) return fail(1, `sinfo: error: Invalid node format specification: ${fmt}\n`);
  let rows: (Row | null)[];
  if (perNode) rows = filtered.map(({ n, s }) => ({ nodes: [n], state: s }));
  else {
    // One line per partition and state (the other printed fields are the same for every node here).
    const groups = new Map<string, Row>();
    for (const { n, s } of filtered) {
      const key = stateNames(s).long + (s.reason ?? '');
      const g = groups.get(key);
      if (g) g.nodes.push(n);
      else groups.set(key, { nodes: [n], state: s });
    }
    rows = groups.size > 0 ? [...groups.values()] : [{ nodes: [], state: { base: 'UNKNOWN', notResponding: false, reason: null } }];
  }
  return ok(render(tokens, rows, header, true));
}

function slurmTime(d: Date | null): string {
  return d ? d.toISOString().slice(0, 19) : 'None';
}

function nodeBlock(cluster: SlurmCluster, n: SlurmNode, oneLiner: boolean, now: Date): string {
  const s = cluster.state(n, now);
  const hw = NODE_HARDWARE;
  const state = [s.base, ...(s.notResponding ? ['NOT_RESPONDING'] : [])].join('+');
  const up = n.registered;
  const lines = [
    `NodeName=${n.name} Arch=${up ? 'x86_64' : '(null)'} CoresPerSocket=${hw.coresPerSocket} `,
    `CPUAlloc=0 CPUEfctv=${hw.cpus} CPUTot=${hw.cpus} CPULoad=${s.notResponding ? 'N/A' : '0.48'}`,
    'AvailableFeatures=h100',
    'ActiveFeatures=h100',
    `Gres=${hw.gres}`,
    `NodeAddr=${n.addr} NodeHostName=${n.hostname} Version=${up ? SLURM_VERSION : '(null)'}`,
    `OS=${up ? 'Linux 6.8.0-45-generic #45-Ubuntu SMP PREEMPT_DYNAMIC Fri Aug 30 12:02:04 UTC 2024 ' : '(null) '}`,
    `RealMemory=${hw.realMemory} AllocMem=0 FreeMem=${s.notResponding ? 'N/A' : '2011853'} Sockets=${hw.sockets} Boards=${hw.boards}`,
    `State=${state} ThreadsPerCore=${hw.threadsPerCore} TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A`,
    `Partitions=${SLURM_PARTITION} `,
    `BootTime=${up ? slurmTime(n.bootTime) : 'None'} SlurmdStartTime=${up ? slurmTime(n.slurmdStartedAt) : 'None'}`,
    `LastBusyTime=${up ? slurmTime(n.lastResponse) : 'Unknown'} ResumeAfterTime=None`,
    `CfgTRES=cpu=${hw.cpus},mem=${hw.realMemory}M,billing=${hw.cpus},gres/gpu=${hw.gpus}`,
    'AllocTRES=',
    'CapWatts=n/a',
    'CurrentWatts=0 AveWatts=0',
    'ExtSensorsJoules=n/a ExtSensorsWatts=0 ExtSensorsTemp=n/a',
    ...(s.reason ? [`Reason=${s.reason}`] : []),
  ];
  if (oneLiner) return `${lines.map((l) => l.trim()).join(' ')}\n`;
  return `${lines[0]}\n${lines
    .slice(1)
    .map((l) => `   ${l}\n`)
    .join('')}\n`;
}

export function scontrol(cluster: SlurmCluster, controlHostname: string, args: readonly string[]): CommandResult {
  let oneLiner = false;
  const words: string[] = [];
  for (const a of args) {
    if (a === '-o' || a === '--oneliner') oneLiner = true;
    else if (a === '-V' || a === '--version') return ok(`slurm ${SLURM_VERSION}\n`);
    else if (a.startsWith('-'))
      return fail(
        1,
        `scontrol: ${a.startsWith('--') ? `unrecognized option '${a}'` : `invalid option -- '${a.slice(1, 2)}'`}\nTry "scontrol --help" for more information\n`,
      );
    else words.push(a);
  }
  const [cmd, entity, ...rest] = words;
  if (cmd === 'ping') {
    const up = cluster.ctldRunning();
    return { stdout: `Slurmctld(primary) at ${controlHostname} is ${up ? 'UP' : 'DOWN'}\n`, stderr: '', exitCode: up ? 0 : 1 };
  }
  if (cmd === 'version') return ok(`slurm ${SLURM_VERSION}\n`);
  if (cmd !== 'show') return fail(1, cmd ? `lab: scontrol ${cmd} is not simulated\n` : 'lab: interactive scontrol is not simulated\n');
  let kind = entity ?? '';
  let name = rest[0];
  const eq = kind.indexOf('=');
  if (eq > 0) {
    name = kind.slice(eq + 1);
    kind = kind.slice(0, eq);
  }
  kind = kind.toLowerCase();
  if (kind !== 'node' && kind !== 'nodes' && kind !== 'nodename') return fail(1, `lab: scontrol show ${entity ?? ''} is not simulated\n`);
  if (!cluster.ctldRunning()) return fail(1, `slurm_load_node error: ${CTLD_DOWN}\n`);
  const now = new Date();
  const all = cluster.list().sort((a, b) => a.name.localeCompare(b.name));
  if (name === undefined) {
    if (all.length === 0) return ok('No nodes in the system\n');
    return ok(all.map((n) => nodeBlock(cluster, n, oneLiner, now)).join(''));
  }
  const wanted = expandHostlist(name);
  const found = all.filter((n) => wanted.includes(n.name));
  if (found.length === 0) return fail(1, `Node ${name} not found\n`);
  return ok(found.map((n) => nodeBlock(cluster, n, oneLiner, now)).join(''));
}
