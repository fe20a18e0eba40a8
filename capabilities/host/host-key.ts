import { createHash } from 'node:crypto';

/** The key type and raw blob of an OpenSSH public key line ("ssh-ed25519 AAAA... comment"). */
export function parsePinnedHostKey(line: string): { type: string; blob: Buffer } {
  const [type, b64] = line.trim().split(/\s+/);
  if (!type || !b64) throw new Error('pinned host key must look like "ssh-ed25519 AAAA..."');
  return { type, blob: Buffer.from(b64, 'base64') };
}

/** OpenSSH-style fingerprint, for messages and evidence. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}
