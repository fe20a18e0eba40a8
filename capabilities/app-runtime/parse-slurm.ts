/**
 * Parsers for Slurm's node views as an operator reads them on the controller host:
 * `scontrol show node <name>` (key=value fields over indented lines, where a value may
 * hold spaces: `OS=Linux 6.8.0-45-generic #45-Ubuntu SMP`, `Reason=Not responding [slurm@...]`)
 * and `sinfo -h -N -o '%N %T %G'`. Pure: unreadable input gives no node.
 */
export interface SlurmNode {
  name: string;
  /** Base state, lower case (`idle`, `alloc`, `mixed`, `down`, `drained`...), flags dropped. */
  state: string;
  /** Flags after `+` (`DRAIN`, `NOT_RESPONDING`...) and the `*` "not responding" suffix. */
  flags: string[];
  /** GPUs Slurm schedules on the node, from its gres (`gpu:h100:8(S:0-1)` → 8). */
  gpus: number;
  gres: string;
  reason: string | null;
}

/** The fields of one `scontrol show node` block. */
export function scontrolFields(block: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of block.split('\n')) {
    // A value runs until the next ` Key=` on the line.
    for (const m of line.matchAll(/([A-Za-z][A-Za-z0-9_/]*)=(.*?)(?=\s+[A-Za-z][A-Za-z0-9_/]*=|\s*$)/g)) fields[m[1]!] = m[2]!.trim();
  }
  return fields;
}

export function parseScontrolShowNode(stdout: string): SlurmNode[] {
  return stdout
    .split(/\n(?=NodeName=)/)
    .map(scontrolFields)
    .filter((f) => f.NodeName && f.State)
    .map((f) => ({ name: f.NodeName!, ...splitState(f.State!), ...gresOf(f.Gres ?? '(null)'), reason: f.Reason ?? null }));
}

export function parseSinfoNodes(stdout: string): SlurmNode[] {
  return stdout
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((fields) => fields.length >= 3 && fields[0] !== 'NODELIST')
    .map(([name, state, gres]) => ({ name: name!, ...splitState(state!), ...gresOf(gres!), reason: null }));
}

function splitState(raw: string): { state: string; flags: string[] } {
  const notResponding = raw.endsWith('*');
  const [base = '', ...flags] = raw.replace(/[*~#!%$@^-]$/, '').split('+');
  return { state: base.toLowerCase(), flags: [...flags, ...(notResponding ? ['NOT_RESPONDING'] : [])] };
}

function gresOf(gres: string): { gres: string; gpus: number } {
  let gpus = 0;
  for (const item of gres.split(',')) {
    const m = /^gpu(?::[^:(]+)?:(\d+)/.exec(item.trim());
    if (m) gpus += Number(m[1]);
  }
  return { gres, gpus };
}
