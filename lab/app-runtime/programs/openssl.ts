/**
 * `openssl x509` (OpenSSL 3.0.13 as on Ubuntu 24.04) over the lab's certificate
 * files: -enddate, -startdate, -dates, -subject, -issuer, -serial (printed in
 * the order given), -checkend SECS, -noout, -in FILE (stdin without it).
 */
import { fail, type CommandResult } from '../../command-types';
import { decodeCertificate, opensslTime } from '../certs';
import type { HostFiles } from '../host-files';

const ERR_ID = '40E7E9C1A17F0000';

function cannotOpen(path: string): CommandResult {
  return fail(
    1,
    `Could not open file or uri for loading certificate from ${path}\n` +
      `${ERR_ID}:error:16000069:STORE routines:ossl_store_get0_loader_int:unregistered scheme:../crypto/store/store_register.c:237:scheme=file\n` +
      `${ERR_ID}:error:80000002:system library:file_open:No such file or directory:../providers/implementations/storemgmt/file_store.c:267:calling stat(${path})\n` +
      'Unable to load certificate\n',
  );
}

export function openssl(files: HostFiles, args: readonly string[], stdin: string | null): CommandResult {
  const [sub, ...rest] = args;
  if (sub === 'version') return { stdout: 'OpenSSL 3.0.13 30 Jan 2024 (Library: OpenSSL 3.0.13 30 Jan 2024)\n', stderr: '', exitCode: 0 };
  if (sub !== 'x509') return fail(1, `lab: openssl ${sub ?? ''} is not simulated (only x509 and version)\n`);
  let input: string | undefined;
  let noout = false;
  let checkend: number | undefined;
  const prints: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const a = (rest[i] ?? '').replace(/^--/, '-');
    switch (a) {
      case '-in':
        input = rest[++i];
        if (input === undefined) return fail(1, 'x509: Option -in needs a value\nx509: Use -help for summary.\n');
        break;
      case '-noout':
        noout = true;
        break;
      case '-enddate':
      case '-startdate':
      case '-dates':
      case '-subject':
      case '-issuer':
      case '-serial':
        prints.push(a);
        break;
      case '-checkend': {
        const v = rest[++i];
        if (v === undefined || !/^\d+$/.test(v))
          return fail(1, `x509: Non-numeric value or illegal value for option -checkend: ${v ?? ''}\nx509: Use -help for summary.\n`);
        checkend = Number(v);
        break;
      }
      case '-text':
      case '-fingerprint':
      case '-pubkey':
        return fail(1, `lab: openssl x509 ${a} is not simulated\n`);
      default:
        return fail(1, `x509: Unknown option: ${rest[i]}\nx509: Use -help for summary.\n`);
    }
  }
  let pem: string | undefined;
  if (input === undefined) pem = stdin ?? '';
  else if (input !== '/dev/stdin') {
    pem = files.read(input);
    if (pem === undefined) return cannotOpen(input);
  } else pem = stdin ?? '';
  const cert = decodeCertificate(pem);
  if (!cert) return fail(1, `Could not read certificate from ${input ?? '<stdin>'}\nUnable to load certificate\n`);
  let stdout = '';
  for (const p of prints) {
    if (p === '-enddate') stdout += `notAfter=${opensslTime(cert.notAfter)}\n`;
    else if (p === '-startdate') stdout += `notBefore=${opensslTime(cert.notBefore)}\n`;
    else if (p === '-dates') stdout += `notBefore=${opensslTime(cert.notBefore)}\nnotAfter=${opensslTime(cert.notAfter)}\n`;
    else if (p === '-subject') stdout += `subject=CN = ${cert.subjectCn}, O = gpuaas-nodes\n`;
    else if (p === '-issuer') stdout += `issuer=CN = ${cert.issuerCn}, O = gpuaas\n`;
    else if (p === '-serial') stdout += `serial=${cert.serial}\n`;
  }
  let exitCode = 0;
  if (checkend !== undefined) {
    const expires = cert.notAfter.getTime() <= Date.now() + checkend * 1000;
    stdout += expires ? 'Certificate will expire\n' : 'Certificate will not expire\n';
    exitCode = expires ? 1 : 0;
  }
  if (!noout) stdout += pem.slice(pem.indexOf('-----BEGIN CERTIFICATE-----'), pem.indexOf('-----END CERTIFICATE-----') + 26);
  if (!noout && !stdout.endsWith('\n')) stdout += '\n';
  return { stdout, stderr: '', exitCode };
}
