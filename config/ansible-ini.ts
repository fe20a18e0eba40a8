/**
 * Reads an Ansible INI inventory (hosts.ini): `[group]` sections of host lines with inline
 * `key=value` vars, `[group:vars]` and `[group:children]`, as Ansible's own ini plugin reads them.
 *
 * Ansible's INI is not plain INI, and no npm library reads it: `ini` splits a host line at its
 * first "=" (`dev-gpu-1 ansible_host=...` becomes a key "dev-gpu-1 ansible_host"),
 * `@one-ini/wasm` drops bare host names and a later `:vars` section, `js-ini` and
 * `config-ini-parser` refuse a bare host name; and none keeps line numbers, which every error
 * here must name. So sections are matched line by line, and a host line is split into words with
 * shell-quote, the same shell-style quoting Ansible applies to it (Python's shlex).
 */
import { parse as shellWords } from 'shell-quote';

/** Where a value was set: a line of hosts.ini, or a key of a vars file (with its line). */
export interface Origin {
  file: string;
  line?: number;
}

export interface Setting {
  value: unknown;
  origin: Origin;
}

/** Variables by name, each with where it was set. */
export type Vars = Map<string, Setting>;

export interface IniGroup {
  name: string;
  /** The groups listed under [name:children]. */
  children: { name: string; line: number }[];
  /** [name:vars]. */
  vars: Vars;
}

export interface IniHost {
  name: string;
  /** The first line that lists it. */
  line: number;
  /** Each [group] section that lists it, with the line. */
  listings: { group: string; line: number }[];
  /** Its inline vars; a later line overrides an earlier one. */
  vars: Vars;
}

export interface AnsibleIni {
  groups: Map<string, IniGroup>;
  /** In the order they first appear. */
  hosts: Map<string, IniHost>;
}

/** Groups every inventory has without declaring them. */
const IMPLICIT_GROUPS = ['all', 'ungrouped'];

const HEADER = /^\[([^\s:\]]+)(?::([^\]]*))?\]\s*(?:[#;].*)?$/;
const GROUP_NAME = /^([^\s:\]]+)\s*(?:[#;].*)?$/;
/** `gpu-[01:50]`, `db-[a:f]`: Ansible's host ranges. */
const HOST_RANGE = /\[[^\]]*:[^\]]*\]/;

/** Parses hosts.ini; `problems` gets one "file:line: ..." entry per line it cannot read. */
export function parseAnsibleIni(file: string, text: string, problems: string[]): AnsibleIni {
  const groups = new Map<string, IniGroup>();
  const hosts = new Map<string, IniHost>();
  const declared = new Set(IMPLICIT_GROUPS);
  /** [x:vars] sections, to check that x is declared somewhere in the file. */
  const varsSections: { name: string; line: number }[] = [];
  const group = (name: string): IniGroup => {
    let g = groups.get(name);
    if (!g) groups.set(name, (g = { name, children: [], vars: new Map() }));
    return g;
  };
  const problem = (line: number, message: string): void => {
    problems.push(`${file}:${line}: ${message}`);
  };

  // Lines before any section list hosts of `ungrouped`, as in Ansible.
  let section: { group: IniGroup; kind: 'hosts' | 'vars' | 'children' | 'unknown' } = { group: group('ungrouped'), kind: 'hosts' };
  text.split(/\r?\n/).forEach((raw, index) => {
    const lineNo = index + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) return;

    if (line.startsWith('[')) {
      const header = HEADER.exec(line);
      if (!header) return problem(lineNo, `cannot read the section header ${JSON.stringify(line)}`);
      const [, name, kind = 'hosts'] = header as unknown as [string, string, string | undefined];
      if (kind !== 'hosts' && kind !== 'vars' && kind !== 'children') {
        // Its lines are skipped: they belong to no section that could be read.
        section = { group: { name, children: [], vars: new Map() }, kind: 'unknown' };
        return problem(lineNo, `[${name}:${kind}]: unknown section type; expected [${name}], [${name}:vars] or [${name}:children]`);
      }
      if (kind === 'vars') varsSections.push({ name, line: lineNo });
      else declared.add(name);
      section = { group: group(name), kind };
      return;
    }

    if (section.kind === 'unknown') return;
    if (section.kind === 'children') {
      const child = GROUP_NAME.exec(line)?.[1];
      if (!child) return problem(lineNo, `[${section.group.name}:children]: expected one group name per line, got ${JSON.stringify(line)}`);
      section.group.children.push({ name: child, line: lineNo });
      return;
    }

    if (section.kind === 'vars') {
      // As Ansible: the value is the rest of the line; quotes around all of it are removed.
      const eq = line.indexOf('=');
      const key = line.slice(0, eq).trim();
      if (eq < 1 || /\s/.test(key)) return problem(lineNo, `[${section.group.name}:vars]: expected key=value, got ${JSON.stringify(line)}`);
      section.group.vars.set(key, { value: unquote(line.slice(eq + 1).trim()), origin: { file, line: lineNo } });
      return;
    }

    const words = hostLineWords(line);
    if (typeof words === 'string') return problem(lineNo, words);
    const [pattern, ...assignments] = words as [string, ...string[]];
    if (HOST_RANGE.test(pattern)) return problem(lineNo, `host ranges (${pattern}) are not read: list each host on its own line`);
    // `name:port` is Ansible's short form of ansible_port.
    const hostPort = /^([^:]+):(\d+)$/.exec(pattern);
    const name = hostPort ? hostPort[1]! : pattern;
    const vars: Vars = new Map();
    if (hostPort) vars.set('ansible_port', { value: hostPort[2], origin: { file, line: lineNo } });
    for (const assignment of assignments) {
      const eq = assignment.indexOf('=');
      if (eq < 1) return problem(lineNo, `host ${name}: expected key=value after the host name, got ${JSON.stringify(assignment)}`);
      vars.set(assignment.slice(0, eq), { value: assignment.slice(eq + 1), origin: { file, line: lineNo } });
    }
    const host: IniHost = hosts.get(name) ?? { name, line: lineNo, listings: [], vars: new Map() };
    for (const [key, setting] of vars) host.vars.set(key, setting);
    host.listings.push({ group: section.group.name, line: lineNo });
    hosts.set(name, host);
  });

  for (const { name, line } of varsSections) {
    if (!declared.has(name)) problem(line, `[${name}:vars]: no group ${name} is declared ([${name}] or [${name}:children])`);
  }
  for (const g of groups.values()) {
    for (const child of g.children) {
      if (!declared.has(child.name))
        problem(child.line, `[${g.name}:children]: no group ${child.name} is declared ([${child.name}] or [${child.name}:children])`);
    }
  }
  return { groups, hosts };
}

/** A host line's words, its inline comment dropped; or why it cannot be read. */
function hostLineWords(line: string): string[] | string {
  // `$NAME` stays as written: Ansible expands no variables in an inventory.
  const tokens = shellWords(line, (name) => `$${name}`);
  const words: string[] = [];
  for (const token of tokens) {
    if (typeof token === 'string') words.push(token);
    else if ('comment' in token) break;
    else if ('pattern' in token) words.push(token.pattern);
    else return `cannot read ${JSON.stringify(line)}: quote the ${JSON.stringify(token.op)} in it`;
  }
  return words.length > 0 ? words : `cannot read ${JSON.stringify(line)}`;
}

/** `"a b"` or `'a b'` → `a b`; anything else as written. */
function unquote(value: string): string {
  if (!/^(["']).*\1$/.test(value)) return value;
  const words = shellWords(value, (name) => `$${name}`);
  return words.length === 1 && typeof words[0] === 'string' ? words[0] : value;
}
