/**
 * Parser for `openssl x509 -enddate -noout -in <cert>`: one line
 * `notAfter=Apr  8 10:00:00 2026 GMT` (the day padded to two characters, always GMT).
 * Pure: anything else is null.
 */
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const END_DATE = /^notAfter=([A-Z][a-z]{2}) +(\d{1,2}) (\d{2}):(\d{2}):(\d{2}) (\d{4}) GMT$/m;

export function parseOpensslEndDate(stdout: string): Date | null {
  const m = END_DATE.exec(stdout);
  if (!m) return null;
  const month = MONTHS.indexOf(m[1]!);
  if (month < 0) return null;
  const [day, hh, mm, ss, year] = [m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number];
  const at = new Date(Date.UTC(year, month, day, hh, mm, ss));
  return at.getUTCDate() === day ? at : null;
}
