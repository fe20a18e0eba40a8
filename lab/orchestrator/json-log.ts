/** The orchestrator's log lines: one JSON object per line, as its Python logging JSON formatter writes them. */
export type LogLevel = 'debug' | 'info' | 'warning' | 'error';

export function jsonLine(level: LogLevel, logger: string, msg: string, fields: Record<string, unknown> = {}, at = new Date()): string {
  return JSON.stringify({ ts: at.toISOString(), level, logger: `gpu_orchestrator.${logger}`, msg, ...fields });
}
