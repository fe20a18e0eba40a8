/** Prometheus text exposition (format 0.0.4) for the orchestrator's gauges and counters. */

export interface Sample {
  labels?: Record<string, string>;
  value: number;
}

export interface Metric {
  name: string;
  help: string;
  type: 'gauge' | 'counter';
  samples: Sample[];
}

const escape = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

export function exposition(metrics: readonly Metric[]): string {
  const out: string[] = [];
  for (const m of metrics) {
    out.push(`# HELP ${m.name} ${m.help}`, `# TYPE ${m.name} ${m.type}`);
    for (const s of m.samples) {
      const labels = Object.entries(s.labels ?? {});
      const l = labels.length ? `{${labels.map(([k, v]) => `${k}="${escape(v)}"`).join(',')}}` : '';
      out.push(`${m.name}${l} ${Number.isInteger(s.value) ? s.value : s.value.toFixed(2)}`);
    }
  }
  return `${out.join('\n')}\n`;
}
