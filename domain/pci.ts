/**
 * PCI bus id normalisation. nvidia-smi prints an 8-digit domain plus a function
 * ("00000000:5D:00.0"); kernel Xid lines print a 4-digit domain without the
 * function ("PCI:0000:5d:00", optionally with a MIG " GPU-I:n" suffix). Both are
 * reduced to lowercase "dddd:bb:dd" so the two sources can be joined.
 */

const PCI_RE = /^(?:([0-9a-f]{1,8}):)?([0-9a-f]{1,2}):([0-9a-f]{1,2})(?:\.[0-9a-f])?$/i;

/** The normalised id, or null when `raw` is not a recognisable PCI address. */
export function tryNormalizePciBusId(raw: string): string | null {
  let s = raw.trim();
  if (s.startsWith('(') && s.endsWith(')')) s = s.slice(1, -1).trim();
  // MIG instance suffix, e.g. "PCI:0000:01:00 GPU-I:05"
  s = s.replace(/\s+GPU-I:\s*\d+\s*$/i, '');
  s = s.replace(/^PCI:/i, '').trim();
  const m = PCI_RE.exec(s);
  if (!m) return null;
  const domain = (m[1] ?? '0').slice(-4).padStart(4, '0');
  const bus = m[2]!.padStart(2, '0');
  const device = m[3]!.padStart(2, '0');
  return `${domain}:${bus}:${device}`.toLowerCase();
}

/**
 * Normalised lowercase "dddd:bb:dd". Input that is not a PCI address comes back
 * trimmed and lowercased, so equal garbage still joins with itself.
 */
export function normalizePciBusId(raw: string): string {
  return tryNormalizePciBusId(raw) ?? raw.trim().toLowerCase();
}
