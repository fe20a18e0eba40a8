/** The app runtime's pure formats and rules, on the shapes the real tools print. */
import { opensslTime, decodeCertificate, encodeCertificate, newCertificate } from '../../lab/app-runtime/certs';
import { buildPrefersHost, fleetIdentity, reachable } from '../../lab/app-runtime/fleet';
import { parseEnvFile } from '../../lab/app-runtime/host-files';
import { logfmt } from '../../lab/app-runtime/logfmt';
import { compressHostlist, expandHostlist } from '../../lab/app-runtime/programs/slurm-programs';
import { LabDns, parseHostsFile } from '../../lab/app-runtime/resolver';
import { relativeAgo, systemdTimestamp, timespan } from '../../lab/app-runtime/service-units';
import { readsStdin } from '../../lab/stdin';

describe('app-runtime formats', () => {
  it('prints certificate times like ASN1_TIME_print and round-trips the lab certificate', () => {
    expect(opensslTime(new Date('2026-04-08T10:00:00Z'))).toBe('Apr  8 10:00:00 2026 GMT');
    expect(opensslTime(new Date('2027-12-25T23:59:59Z'))).toBe('Dec 25 23:59:59 2027 GMT');
    const cert = newCertificate('dev-gpu-1', new Date('2025-04-08T10:00:00Z'), new Date('2026-04-08T10:00:00Z'));
    const pem = encodeCertificate(cert);
    expect(pem).toMatch(/^-----BEGIN CERTIFICATE-----\n([A-Za-z0-9+/=]{1,64}\n)+-----END CERTIFICATE-----\n$/);
    expect(decodeCertificate(pem)).toEqual(cert);
    expect(decodeCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')).toBeUndefined();
  });

  it("formats systemd's relative times and timespans", () => {
    const now = Date.parse('2026-04-08T12:00:00Z');
    expect(relativeAgo(now - 45_000, now)).toBe('45s ago');
    expect(relativeAgo(now - 125_000, now)).toBe('2min 5s ago');
    expect(relativeAgo(now - 7_380_000, now)).toBe('2h 3min ago');
    expect(relativeAgo(now - 26 * 3_600_000, now)).toBe('1 day 2h ago');
    expect(relativeAgo(now - 3 * 86_400_000, now)).toBe('3 days ago');
    expect(timespan(41)).toBe('41ms');
    expect(timespan(62_345)).toBe('1min 2.345s');
    expect(systemdTimestamp(new Date('2026-04-08T10:00:00Z'))).toBe('Wed 2026-04-08 10:00:00 UTC');
  });

  it('compresses and expands Slurm hostlists', () => {
    expect(compressHostlist(['j27u15'])).toBe('j27u15');
    expect(compressHostlist(['j27u17', 'j27u15', 'j27u16', 'j28u15'])).toBe('j27u[15-17],j28u15');
    expect(compressHostlist(['n01', 'n02', 'n04'])).toBe('n[01-02,04]');
    expect(expandHostlist('j27u[15,17-18],x1')).toEqual(['j27u15', 'j27u17', 'j27u18', 'x1']);
  });

  it('resolves sslip.io names to the embedded address and reads /etc/hosts lines', () => {
    const dns = new LabDns();
    expect(dns.lookup('node-api.100-90-157-34.sslip.io')).toBe('100.90.157.34');
    expect(dns.lookup('j27u15')).toBeUndefined();
    dns.noAnswer('node-api.100-90-157-34.sslip.io');
    expect(dns.lookup('node-api.100-90-157-34.sslip.io')).toBeUndefined();
    expect(parseHostsFile('127.0.0.1 localhost\n# c\n10.176.46.104 a b # tail\n\n')).toEqual([
      { ip: '127.0.0.1', names: ['localhost'] },
      { ip: '10.176.46.104', names: ['a', 'b'] },
    ]);
  });

  it('knows which builds dial connection.host and what a worker can route to', () => {
    expect(buildPrefersHost('1.4.0')).toBe(false);
    expect(buildPrefersHost('1.4.2')).toBe(false);
    expect(buildPrefersHost('1.5.0')).toBe(true);
    expect(buildPrefersHost('2.0.1')).toBe(true);
    expect(fleetIdentity('dev-gpu-1')).toEqual({ address: '10.176.47.11', maasHostname: 'j27u15' });
    expect(fleetIdentity('dev-gpu-2')).toEqual({ address: '10.176.47.12', maasHostname: 'j27u17' });
    expect(reachable(true, '10.176.46.104')).toBe(true);
    expect(reachable(true, '100.90.157.34')).toBe(false);
    expect(reachable(false, '100.90.157.34')).toBe(true);
  });

  it('parses env files like systemd, writes logfmt, and knows which commands read stdin', () => {
    expect([...parseEnvFile('# c\nA=1\nB="two words"\n\nbad\n').entries()]).toEqual([
      ['A', '1'],
      ['B', 'two words'],
    ]);
    expect(logfmt('error', 'enrollment failed: 401 token_invalid', { url: 'https://x/v1', err: 'a b' })).toBe(
      'level=error msg="enrollment failed: 401 token_invalid" url=https://x/v1 err="a b"',
    );
    expect(readsStdin("install -m 0600 /dev/stdin '/etc/gpuaas/node-agent.env'")).toBe(true);
    expect(readsStdin('tee -a /etc/hosts')).toBe(true);
    expect(readsStdin('cat /etc/hosts')).toBe(false);
    expect(readsStdin('hostname')).toBe(false);
  });
});
