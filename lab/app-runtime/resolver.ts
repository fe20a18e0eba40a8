/**
 * Name resolution the way glibc does it on these hosts (nsswitch "hosts: files
 * dns"): /etc/hosts first, then the environment's DNS. The lab DNS answers
 * *.A-B-C-D.sslip.io with A.B.C.D as sslip.io does, which for the control-plane
 * names is a tailnet address a MAAS node cannot route to; a fault can make it
 * answer nothing at all. MAAS hostnames (j27u15) are in no resolver.
 */
import type { HostFiles } from './host-files';
import { PATHS } from './fleet';

export interface HostsEntry {
  ip: string;
  names: string[];
}

export interface Resolved {
  ip: string;
  /** The canonical name and aliases, as getent prints them. */
  names: string[];
  source: 'files' | 'dns';
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIpv4(text: string): boolean {
  const m = IPV4.exec(text);
  return m !== null && m.slice(1).every((o) => Number(o) <= 255);
}

export function parseHostsFile(text: string): HostsEntry[] {
  const out: HostsEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    const [ip, ...names] = line.split(/\s+/);
    if (ip && names.length > 0) out.push({ ip, names });
  }
  return out;
}

export class LabDns {
  /** Names the DNS gives no answer for (NXDOMAIN / upstream failure). */
  private readonly unanswered = new Set<string>();

  lookup(name: string): string | undefined {
    const n = name.toLowerCase().replace(/\.$/, '');
    if (this.unanswered.has(n)) return undefined;
    const m = /(?:^|[.-])(\d{1,3})-(\d{1,3})-(\d{1,3})-(\d{1,3})\.sslip\.io$/.exec(n);
    if (m) {
      const ip = m.slice(1, 5).join('.');
      return isIpv4(ip) ? ip : undefined;
    }
    return undefined;
  }

  noAnswer(name: string): void {
    this.unanswered.add(name.toLowerCase());
  }

  snapshot(): { unanswered: string[] } {
    return { unanswered: [...this.unanswered] };
  }

  reset(): void {
    this.unanswered.clear();
  }
}

/** What `getent hosts NAME` (and any program's resolver) finds on this host. */
export function resolveName(files: HostFiles, dns: LabDns, name: string): Resolved | undefined {
  const wanted = name.toLowerCase();
  for (const e of parseHostsFile(files.read(PATHS.hosts) ?? '')) {
    if (!isIpv4(e.ip)) continue;
    if (e.names.some((n) => n.toLowerCase() === wanted)) return { ip: e.ip, names: e.names, source: 'files' };
  }
  if (isIpv4(name)) return { ip: name, names: [name], source: 'dns' };
  const ip = dns.lookup(name);
  return ip ? { ip, names: [name], source: 'dns' } : undefined;
}

/** getent's reverse lookup of an address: /etc/hosts only (the lab DNS has no PTR records). */
export function reverseLookup(files: HostFiles, ip: string): Resolved | undefined {
  const e = parseHostsFile(files.read(PATHS.hosts) ?? '').find((x) => x.ip === ip);
  return e ? { ip, names: e.names, source: 'files' } : undefined;
}
