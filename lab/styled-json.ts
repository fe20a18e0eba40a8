/**
 * JSON as JsonCpp's StyledWriter prints it (what dcgmi -j emits): 3-space indent,
 * `"key" : value`, keys in byte order, short arrays of scalars on one line.
 */
type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const INDENT = '   ';
const RIGHT_MARGIN = 74;

const isScalar = (v: Json) => v === null || typeof v !== 'object';

function write(value: Json, depth: number): string {
  if (isScalar(value)) return JSON.stringify(value);
  const pad = INDENT.repeat(depth + 1);
  const close = INDENT.repeat(depth);
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    if (value.every(isScalar)) {
      const line = `[ ${value.map((v) => JSON.stringify(v)).join(', ')} ]`;
      if (line.length + pad.length <= RIGHT_MARGIN) return line;
    }
    return `[\n${value.map((v) => pad + write(v, depth + 1)).join(',\n')}\n${close}]`;
  }
  const keys = Object.keys(value).sort();
  if (keys.length === 0) return '{}';
  return `{\n${keys.map((k) => `${pad}${JSON.stringify(k)} : ${write(value[k] as Json, depth + 1)}`).join(',\n')}\n${close}}`;
}

export function styledJson(value: unknown): string {
  return `${write(JSON.parse(JSON.stringify(value)) as Json, 0)}\n`;
}
