import crypto from 'node:crypto';
import fs from 'node:fs';

/**
 * The password of a server we run on 127.0.0.1: generated the first time, then kept in
 * `file` (0600) so the server's data and its clients agree across restarts. The loopback
 * address keeps other machines out; the password keeps out other users of this one.
 */
export function keptPassword(file: string): string {
  try {
    const kept = fs.readFileSync(file, 'utf8').trim();
    if (kept !== '') return kept;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const fresh = crypto.randomBytes(24).toString('base64url');
  fs.writeFileSync(file, `${fresh}\n`, { mode: 0o600 });
  return fresh;
}
