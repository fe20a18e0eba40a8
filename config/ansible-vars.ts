/**
 * An Ansible inventory's vars files: group_vars/<group>.yml and host_vars/<host>.yml beside
 * hosts.ini, each a YAML mapping of variable names to values.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML, { LineCounter } from 'yaml';
import type { Vars } from './ansible-ini';

/**
 * The vars of `name` in `dir` (group_vars or host_vars): <name>.yml or <name>.yaml, each key
 * with its line; none when there is no such file. `problems` gets "file:line: ..." entries.
 */
export function readVarsFile(dir: string, name: string, problems: string[]): Vars {
  const vars: Vars = new Map();
  // Ansible also reads a folder of files per name; one file keeps each value in one place.
  const folder = path.join(dir, name);
  if (fs.existsSync(folder) && fs.statSync(folder).isDirectory()) {
    problems.push(`${folder}: a folder of vars files is not read; put the vars in ${name}.yml`);
    return vars;
  }
  const files = ['.yml', '.yaml'].map((ext) => path.join(dir, `${name}${ext}`)).filter((f) => fs.existsSync(f));
  if (files.length > 1) {
    problems.push(`${files[1]}: ${path.basename(files[0]!)} is there too; keep one vars file per name`);
    return vars;
  }
  const file = files[0];
  if (!file) return vars;

  const lineCounter = new LineCounter();
  const doc = YAML.parseDocument(fs.readFileSync(file, 'utf8'), { lineCounter, prettyErrors: true });
  if (doc.errors.length > 0) {
    const error = doc.errors[0]!;
    problems.push(`${file}:${error.linePos?.[0].line ?? 1}: not valid YAML: ${error.message.split('\n')[0]}`);
    return vars;
  }
  if (doc.contents === null) return vars;
  if (!YAML.isMap(doc.contents)) {
    problems.push(`${file}: expected a mapping of variable names to values`);
    return vars;
  }
  for (const pair of doc.contents.items) {
    const key = YAML.isScalar(pair.key) ? pair.key.value : pair.key;
    const line = YAML.isNode(pair.key) && pair.key.range ? lineCounter.linePos(pair.key.range[0]).line : undefined;
    if (typeof key !== 'string') {
      problems.push(`${file}${line ? `:${line}` : ''}: variable names are strings, got ${JSON.stringify(key)}`);
      continue;
    }
    const value: unknown = YAML.isNode(pair.value) ? pair.value.toJS(doc) : pair.value;
    vars.set(key, { value, origin: { file, line } });
  }
  return vars;
}
