/**
 * The engine's inventory read from an Ansible inventory in seed 002's layout: a host's role is
 * the role group it is in (platform_control, app_control or worker_compute, directly or through
 * [group:children]), its fields are Ansible variables merged in Ansible's order of precedence,
 * and the result is checked by the very schema a JSON or YAML inventory is. Every problem names
 * the file and line it comes from.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { ZodIssue } from 'zod';
import { HOST_ROLES, type HostRole } from '../domain/host-roles';
import { InventorySchema, type Inventory } from '../domain/inventory';
import { parseAnsibleIni, type AnsibleIni, type IniHost, type Origin, type Setting, type Vars } from './ansible-ini';
import { readVarsFile } from './ansible-vars';
import { ConfigError } from './config-error';

/** The engine's host fields and the Ansible variables they are read from; `hostname` is the inventory hostname. */
export const ANSIBLE_VARIABLES = {
  /** Default: the inventory hostname. */
  node_id: 'gpuaas_node_id',
  /** Default: the inventory hostname, as Ansible connects. */
  host: 'ansible_host',
  port: 'ansible_port',
  user: 'ansible_user',
  host_key: 'gpuaas_host_key',
  gpu_count: 'gpuaas_gpu_count',
  drillable: 'gpuaas_drillable',
} as const;

/** gpuaas_label_rack=r12 → the disruption scope (label) rack: r12. */
export const LABEL_VARIABLE_PREFIX = 'gpuaas_label_';

type Field = keyof typeof ANSIBLE_VARIABLES;

/** The engine's own variables: a gpuaas_ variable not among them is a typo, refused rather than ignored. */
const OWN_VARIABLES = [...Object.values(ANSIBLE_VARIABLES).filter((v) => v.startsWith('gpuaas_')), `${LABEL_VARIABLE_PREFIX}<name>`];

/** Fields read from INI text, where every value is a string: whole numbers and true/false are converted. */
const NUMBER_FIELDS: readonly Field[] = ['port', 'gpu_count'];
const BOOLEAN_FIELDS: readonly Field[] = ['drillable'];

/** A host of the inventory and where each of its fields was set. */
interface ResolvedHost {
  ini: IniHost;
  fields: Record<string, unknown>;
  /** By field name, and `labels.<name>` for a label. */
  settings: Map<string, { variable: string; setting: Setting }>;
}

export function loadAnsibleInventory(file: string): Inventory {
  const title = `Invalid inventory ${file}:`;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(title, [`cannot read file: ${(err as Error).message}`]);
  }
  const problems: string[] = [];
  const ini = parseAnsibleIni(file, text, problems);
  const dir = path.dirname(file);
  const ancestry = groupAncestry(ini, file, problems);
  const varsFiles = new Map<string, Vars>();
  const varsFile = (kind: 'group_vars' | 'host_vars', name: string): Vars => {
    const key = `${kind}/${name}`;
    if (!varsFiles.has(key)) varsFiles.set(key, readVarsFile(path.join(dir, kind), name, problems));
    return varsFiles.get(key)!;
  };

  const resolved: ResolvedHost[] = [];
  for (const host of ini.hosts.values()) {
    const role = hostRole(host, ancestry, file, problems);
    const depth = (g: string) => ancestry.get(g)!.depth;
    const groups = [...hostGroups(host, ancestry)].sort((a, b) => depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0));
    // Ansible's precedence, lowest first: the INI's group vars (all, then by depth and name), the
    // group_vars files in the same order, the host's own line, its host_vars file.
    const layers: Vars[] = [
      ini.groups.get('all')?.vars ?? new Map(),
      ...groups.map((g) => ini.groups.get(g)!.vars),
      varsFile('group_vars', 'all'),
      ...groups.map((g) => varsFile('group_vars', g)),
      host.vars,
      varsFile('host_vars', host.name),
    ];
    if (role) resolved.push(toInventoryHost(host, role, merge(layers)));
  }
  for (const vars of [...[...ini.groups.values()].map((g) => g.vars), ...[...ini.hosts.values()].map((h) => h.vars), ...varsFiles.values()]) {
    for (const [name, setting] of vars) {
      if (name.startsWith('gpuaas_') && !isKnownVariable(name)) {
        problems.push(`${where(setting.origin)}: unknown variable ${name} (known: ${OWN_VARIABLES.join(', ')})`);
      }
    }
  }

  const parsed = InventorySchema.safeParse({ hosts: resolved.map((h) => h.fields) });
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      // Without hosts that could be read, "no hosts" is no news.
      if (issue.path.length > 1 || problems.length === 0) problems.push(describeIssue(issue, resolved, file));
    }
  }
  if (problems.length > 0) throw new ConfigError(title, [...new Set(problems)]);
  return parsed.data!;
}

/** Every group's ancestors (through [group:children], up to `all`) and its depth below `all`, as Ansible orders group vars. */
function groupAncestry(ini: AnsibleIni, file: string, problems: string[]): Map<string, { ancestors: Set<string>; depth: number }> {
  const parents = new Map<string, { name: string; line: number }[]>();
  for (const g of ini.groups.values()) {
    for (const child of g.children) parents.set(child.name, [...(parents.get(child.name) ?? []), { name: g.name, line: child.line }]);
  }
  const ancestorsOf = (name: string): Set<string> => {
    const found = new Set<string>();
    const queue = [name];
    for (let g = queue.shift(); g !== undefined; g = queue.shift()) {
      for (const p of parents.get(g) ?? []) {
        if (found.has(p.name)) continue;
        found.add(p.name);
        queue.push(p.name);
      }
    }
    return found.add('all');
  };
  const ancestry = new Map([...ini.groups.keys(), 'all'].map((name) => [name, { ancestors: ancestorsOf(name), depth: 0 }]));
  // An edge whose child is also above its parent closes a loop; without those edges the groups form a tree-like order for depth.
  const inLoop = (parent: string, child: string) => ancestry.get(parent)?.ancestors.has(child) ?? false;
  for (const g of ini.groups.values()) {
    for (const child of g.children.filter((c) => inLoop(g.name, c.name))) {
      problems.push(`${file}:${child.line}: [${g.name}:children]: ${child.name} is also above ${g.name}; groups may not contain themselves`);
    }
  }
  const depth = (name: string): number => {
    if (name === 'all') return 0;
    const above = (parents.get(name) ?? []).filter((p) => !inLoop(p.name, name)).map((p) => depth(p.name));
    return 1 + Math.max(0, ...above);
  };
  for (const [name, entry] of ancestry) entry.depth = depth(name);
  return ancestry;
}

/** The groups a host is in, directly or as a member of a child group; not `all`. */
function hostGroups(host: IniHost, ancestry: Map<string, { ancestors: Set<string> }>): Set<string> {
  const groups = new Set<string>();
  for (const { group } of host.listings) {
    groups.add(group);
    for (const a of ancestry.get(group)?.ancestors ?? []) groups.add(a);
  }
  groups.delete('all');
  return groups;
}

/** The one role group a host is in; a host in none or in two is a problem at its line. */
function hostRole(host: IniHost, ancestry: Map<string, { ancestors: Set<string> }>, file: string, problems: string[]): HostRole | undefined {
  /** Each role group the host is in, with the first line that puts it there and the group it is listed in. */
  const roles = new Map<HostRole, { line: number; listedIn: string }>();
  for (const { group, line } of host.listings) {
    const above = ancestry.get(group)?.ancestors ?? new Set<string>();
    for (const role of HOST_ROLES) if ((group === role || above.has(role)) && !roles.has(role)) roles.set(role, { line, listedIn: group });
  }
  const found = [...roles.entries()].sort((a, b) => a[1].line - b[1].line);
  if (found.length === 1) return found[0]![0];
  if (found.length === 0) {
    const groups = [...hostGroups(host, ancestry)].filter((g) => g !== 'ungrouped');
    problems.push(
      `${file}:${host.line}: host ${host.name} is in no role group${groups.length > 0 ? ` (only in ${groups.join(', ')})` : ''}: list it under [platform_control], [app_control] or [worker_compute]`,
    );
  } else {
    const at = ([role, { line, listedIn }]: (typeof found)[number]) => `${role} (line ${line}${listedIn === role ? '' : `, in ${listedIn}`})`;
    problems.push(`${file}:${found[1]![1].line}: host ${host.name} is in two role groups, ${at(found[0]!)} and ${at(found[1]!)}; a host has exactly one role`);
  }
  return undefined;
}

/** Later layers override earlier ones, variable by variable. */
function merge(layers: Vars[]): Vars {
  const merged: Vars = new Map();
  for (const layer of layers) for (const [name, setting] of layer) merged.set(name, setting);
  return merged;
}

function isKnownVariable(name: string): boolean {
  return (
    (Object.values(ANSIBLE_VARIABLES) as string[]).includes(name) || (name.startsWith(LABEL_VARIABLE_PREFIX) && name.length > LABEL_VARIABLE_PREFIX.length)
  );
}

function toInventoryHost(host: IniHost, role: HostRole, vars: Vars): ResolvedHost {
  const fields: Record<string, unknown> = { node_id: host.name, hostname: host.name, role, host: host.name };
  const settings: ResolvedHost['settings'] = new Map();
  for (const [field, variable] of Object.entries(ANSIBLE_VARIABLES) as [Field, string][]) {
    const setting = vars.get(variable);
    if (!setting) continue;
    fields[field] = fromText(field, setting.value);
    settings.set(field, { variable, setting });
  }
  const labels: Record<string, unknown> = {};
  for (const [variable, setting] of vars) {
    if (!variable.startsWith(LABEL_VARIABLE_PREFIX) || variable === LABEL_VARIABLE_PREFIX) continue;
    const label = variable.slice(LABEL_VARIABLE_PREFIX.length);
    labels[label] = setting.value;
    settings.set(`labels.${label}`, { variable, setting });
  }
  fields.labels = labels;
  return { ini: host, fields, settings };
}

/** INI values are text: "22" is the number 22 where a number is expected, "true" a boolean where one is. */
function fromText(field: Field, value: unknown): unknown {
  if (typeof value !== 'string') return value;
  if (NUMBER_FIELDS.includes(field) && /^-?\d+$/.test(value)) return Number(value);
  if (BOOLEAN_FIELDS.includes(field) && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return value;
}

function where(origin: Origin): string {
  return origin.line === undefined ? origin.file : `${origin.file}:${origin.line}`;
}

/** A schema issue as "file:line: variable: message", at the variable's own line or else the host's. */
function describeIssue(issue: ZodIssue, hosts: ResolvedHost[], file: string): string {
  const [top, index, field, label] = issue.path;
  if (top !== 'hosts' || typeof index !== 'number') return `${file}: no hosts: list them under [platform_control], [app_control] or [worker_compute]`;
  const host = hosts[index]!;
  const key = field === 'labels' && label !== undefined ? `labels.${label}` : String(field);
  const set = host.settings.get(key);
  const variable = set?.variable ?? ANSIBLE_VARIABLES[field as Field] ?? String(field);
  if (!set) {
    const unset = issue.code === 'invalid_type' && issue.received === 'undefined';
    return `${file}:${host.ini.line}: host ${host.ini.name}: ${variable}${unset ? ` is not set (on the host's line, in host_vars/${host.ini.name}.yml or in its groups' vars)` : `: ${issue.message}`}`;
  }
  const shown = JSON.stringify(set.setting.value);
  return `${where(set.setting.origin)}: ${variable}: ${issue.message} (got ${shown.length > 80 ? `${shown.slice(0, 80)}…` : shown})`;
}
