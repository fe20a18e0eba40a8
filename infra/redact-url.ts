/** scheme://user:***@host:port/path, for messages: a URL's password never reaches a log. */
export function redactUrl(url: string, what = 'URL'): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return `<unparseable ${what}>`;
  }
}
