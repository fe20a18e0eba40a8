/** The services' log lines: logfmt ("level=info msg=\"...\" key=value"), as Go daemons on these hosts write them. */
export function logfmt(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, string | number> = {}): string {
  const value = (s: string) => (/^[\w.:/@+-]+$/.test(s) ? s : JSON.stringify(s));
  const rest = Object.entries(fields)
    .map(([k, v]) => ` ${k}=${value(String(v))}`)
    .join('');
  return `level=${level} msg=${JSON.stringify(msg)}${rest}`;
}
