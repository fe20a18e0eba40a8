/**
 * How answers are shown: aligned tables and key/value blocks for people, the API's
 * own JSON for scripts (`-o json`). Tables go to stdout; notes for people to stderr,
 * so `$(...)` captures only the answer.
 */
export type OutputFormat = 'table' | 'json';
export const OUTPUT_FORMATS: OutputFormat[] = ['table', 'json'];

export interface Column<T> {
  header: string;
  value: (row: T) => unknown;
}

export class Output {
  constructor(
    readonly format: OutputFormat,
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly err: NodeJS.WritableStream = process.stderr,
  ) {}

  get json(): boolean {
    return this.format === 'json';
  }

  line(text = ''): void {
    this.out.write(`${text}\n`);
  }

  /** For people only: progress and hints that a script should not parse. */
  note(text: string): void {
    this.err.write(`${text}\n`);
  }

  /** Pretty JSON: what `-o json` prints. */
  printJson(value: unknown): void {
    this.line(JSON.stringify(value, null, 2));
  }

  /** One compact JSON document per line (for streams such as `runs watch -o json`). */
  printJsonLine(value: unknown): void {
    this.line(JSON.stringify(value));
  }

  table<T>(rows: T[], columns: Column<T>[], empty = '(none)'): void {
    if (rows.length === 0) {
      this.line(empty);
      return;
    }
    for (const l of formatTable(rows, columns)) this.line(l);
  }

  keyValues(pairs: [string, unknown][], indent = ''): void {
    const width = Math.max(...pairs.map(([k]) => k.length));
    for (const [k, v] of pairs) this.line(`${indent}${k.padEnd(width)}  ${cell(v)}`.trimEnd());
  }
}

export function formatTable<T>(rows: T[], columns: Column<T>[]): string[] {
  const cells = rows.map((r) => columns.map((c) => cell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((r) => r[i]!.length)));
  const render = (values: string[]) =>
    values
      .map((v, i) => (i === values.length - 1 ? v : v.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [render(columns.map((c) => c.header)), ...cells.map(render)];
}

/** A value as one table cell: missing is "-", lists are comma-separated, objects are JSON. */
export function cell(v: unknown): string {
  if (v === null || v === undefined || v === '') return '-';
  if (Array.isArray(v)) return v.length ? v.map(cell).join(', ') : '-';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replace(/\s*\n\s*/g, ' ');
}

/** An ISO time without milliseconds, in UTC: `2026-03-01 12:00:05Z`. */
export function time(iso: string | null | undefined): string | undefined {
  if (!iso) return undefined;
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z');
}

/** How long ago, compactly: `45s`, `12m`, `3h`, `2d`. */
export function age(iso: string | null | undefined, now = Date.now()): string | undefined {
  if (!iso) return undefined;
  const s = Math.max(0, Math.round((now - new Date(iso).getTime()) / 1000));
  if (Number.isNaN(s)) return undefined;
  if (s < 120) return `${s}s`;
  if (s < 2 * 3600) return `${Math.floor(s / 60)}m`;
  if (s < 2 * 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
