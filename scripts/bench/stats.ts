/** Percentiles and the printed table of the benchmark. Figures only, no assertions. */
import os from 'node:os';

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p95: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of `sorted` (ascending). */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

const round = (x: number) => Math.round(x * 10) / 10;

export function summarize(samples: number[]): Summary {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  return { n: s.length, min: round(s[0]!), p50: round(percentile(s, 50)), p95: round(percentile(s, 95)), max: round(s[s.length - 1]!), mean: round(mean) };
}

/** Plain-text table: a header row, then one row per entry, columns right-aligned. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows].map((r) => r.map(String));
  const widths = header.map((_, i) => Math.max(...cells.map((r) => r[i]?.length ?? 0)));
  const line = (r: string[]) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(cells[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

/** The line every benchmark ends with: what ran it, and how busy the machine was. */
export function machineLine(): string {
  return `machine: node ${process.version}, ${os.cpus().length} CPU(s), load avg ${os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ')}`;
}
