/**
 * The node-agent's client certificate as a file on the host and what
 * `openssl x509` prints about it. The PEM body carries the lab's own encoding
 * of the few fields the lab models (serial, subject, issuer, validity), not
 * DER: only the lab's openssl reads it.
 */
import { randomBytes } from 'node:crypto';

export interface LabCertificate {
  serial: string;
  subjectCn: string;
  issuerCn: string;
  notBefore: Date;
  notAfter: Date;
}

const MAGIC = 'gpuaas-lab-x509 v1\n';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
export const NODE_CA = 'gpuaas node CA R2';

export function newCertificate(nodeId: string, notBefore: Date, notAfter: Date): LabCertificate {
  return { serial: randomBytes(16).toString('hex').toUpperCase(), subjectCn: nodeId, issuerCn: NODE_CA, notBefore, notAfter };
}

function wrap64(b64: string): string {
  return (b64.match(/.{1,64}/g) ?? []).join('\n');
}

export function encodeCertificate(c: LabCertificate): string {
  const body = JSON.stringify({
    serial: c.serial,
    subject: c.subjectCn,
    issuer: c.issuerCn,
    not_before: c.notBefore.toISOString(),
    not_after: c.notAfter.toISOString(),
  });
  return `-----BEGIN CERTIFICATE-----\n${wrap64(Buffer.from(MAGIC + body).toString('base64'))}\n-----END CERTIFICATE-----\n`;
}

export function decodeCertificate(pem: string): LabCertificate | undefined {
  const m = /-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=\n]+)-----END CERTIFICATE-----/.exec(pem);
  if (!m) return undefined;
  const text = Buffer.from((m[1] ?? '').replace(/\n/g, ''), 'base64').toString('utf8');
  if (!text.startsWith(MAGIC)) return undefined;
  try {
    const j = JSON.parse(text.slice(MAGIC.length)) as { serial: string; subject: string; issuer: string; not_before: string; not_after: string };
    return { serial: j.serial, subjectCn: j.subject, issuerCn: j.issuer, notBefore: new Date(j.not_before), notAfter: new Date(j.not_after) };
  } catch {
    return undefined;
  }
}

/** A private key file: random bytes in PKCS#8 armour (nothing reads it but the agent's existence check). */
export function newPrivateKeyPem(): string {
  return `-----BEGIN PRIVATE KEY-----\n${wrap64(randomBytes(48).toString('base64'))}\n-----END PRIVATE KEY-----\n`;
}

/** OpenSSL's ASN1_TIME_print: "Apr  8 10:00:00 2026 GMT". */
export function opensslTime(d: Date): string {
  const day = String(d.getUTCDate()).padStart(2, ' ');
  return `${MONTHS[d.getUTCMonth()]} ${day} ${d.toISOString().slice(11, 19)} ${d.getUTCFullYear()} GMT`;
}
