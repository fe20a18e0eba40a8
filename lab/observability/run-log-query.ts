/**
 * Runs a parsed LogQL query over the store as Loki's querier does: entries in
 * [start, end) whose stream matches the selector go through the pipeline; the
 * first `limit` in the asked direction come back, grouped into streams by their
 * labels after the pipeline (so `| json` fields become stream labels, and a
 * field named like a stream label is kept as `<name>_extracted`).
 */
import type { LogEntry } from './log-store';
import { matches, type LogQuery } from './logql';

export type Direction = 'forward' | 'backward';

export interface QueryWindow {
  startNs: bigint;
  endNs: bigint;
  limit: number;
  direction: Direction;
}

export interface ResultStream {
  stream: Record<string, string>;
  values: [string, string][];
}

/** The label set a line has after the pipeline, or null when a filter dropped it. */
function runPipeline(query: LogQuery, entry: LogEntry): Record<string, string> | null {
  const labels: Record<string, string> = { ...entry.labels };
  for (const stage of query.pipeline) {
    switch (stage.kind) {
      case 'line_filter': {
        const hit = stage.regex ? stage.regex.test(entry.line) : entry.line.includes(stage.text);
        if (hit !== (stage.op === '|=' || stage.op === '|~')) return null;
        break;
      }
      case 'json':
        extractJson(entry.line, entry.labels, labels);
        break;
      case 'label_filter':
        if (!matches(stage.matcher, labels[stage.matcher.name])) return null;
        break;
    }
  }
  return labels;
}

/** Loki's `| json` without parameters: every leaf, nested keys joined with `_`, names made label-safe. */
function extractJson(line: string, streamLabels: Record<string, string>, into: Record<string, string>): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line);
  } catch {
    parsed = undefined;
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    into.__error__ = 'JSONParserErr';
    return;
  }
  const visit = (prefix: string, value: unknown) => {
    if (value === null || value === undefined) return;
    if (typeof value === 'object' && !Array.isArray(value)) {
      for (const [k, v] of Object.entries(value)) visit(prefix ? `${prefix}_${k}` : k, v);
      return;
    }
    const name = prefix.replace(/[^A-Za-z0-9_]/g, '_');
    const key = name in streamLabels ? `${name}_extracted` : name;
    into[key] = typeof value === 'string' ? value : JSON.stringify(value);
  };
  visit('', parsed);
}

export function runLogQuery(entries: readonly LogEntry[], query: LogQuery, window: QueryWindow): ResultStream[] {
  const hits: { entry: LogEntry; labels: Record<string, string>; seq: number }[] = [];
  entries.forEach((entry, seq) => {
    if (entry.tsNs < window.startNs || entry.tsNs >= window.endNs) return;
    if (!query.selector.every((m) => matches(m, entry.labels[m.name]))) return;
    const labels = runPipeline(query, entry);
    if (labels) hits.push({ entry, labels, seq });
  });
  const sign = window.direction === 'forward' ? 1 : -1;
  hits.sort((a, b) => sign * (a.entry.tsNs === b.entry.tsNs ? a.seq - b.seq : a.entry.tsNs < b.entry.tsNs ? -1 : 1));
  const streams = new Map<string, ResultStream>();
  for (const hit of hits.slice(0, window.limit)) {
    const key = JSON.stringify(Object.entries(hit.labels).sort(([a], [b]) => a.localeCompare(b)));
    let stream = streams.get(key);
    if (!stream) {
      stream = { stream: hit.labels, values: [] };
      streams.set(key, stream);
    }
    stream.values.push([hit.entry.tsNs.toString(), hit.entry.line]);
  }
  return [...streams.values()];
}
