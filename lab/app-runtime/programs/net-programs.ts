/**
 * Name resolution and reachability as a host sees them: getent (glibc's
 * output), nc -z (OpenBSD netcat) and a small curl. A MAAS worker routes only
 * the MAAS network and the control-plane address; the sslip.io answer for the
 * control-plane names is a tailnet address it cannot reach.
 */
import { fail, ok, type CommandPlan, type CommandResult } from '../../command-types';
import type { AppHost } from '../app-host';
import { passwdLine } from './file-programs';
import { isIpv4, resolveName, reverseLookup, type LabDns } from '../resolver';

/** Real durations, in ms. */
const NET = { local: 10, nxdomain: 30, noRoute: 3_000, synTimeout: 130_000, roundTrip: 40 } as const;

export type PortState = 'open' | 'closed' | 'no_route' | 'timeout';

export interface NetDeps {
  host: AppHost;
  dns: LabDns;
  /** What a TCP connect from this host to ip:port meets. */
  connect(ip: string, port: number): PortState;
}

const SERVICES: Record<number, string> = { 22: 'ssh', 80: 'http', 443: 'https', 6817: '*', 6818: '*' };

/** getent hosts|passwd KEY...: glibc prints "%-15s %s" and exits 2 when a key is not found. */
export function getent(deps: NetDeps, args: readonly string[]): CommandPlan {
  const [db, ...keys] = args;
  if (db === undefined)
    return {
      durationMs: NET.local,
      finish: () => fail(1, "Usage: getent [OPTION...] database [key ...]\nTry `getent --help' or `getent --usage' for more information.\n"),
    };
  if (db === 'passwd') {
    return {
      durationMs: NET.local,
      finish: () => {
        const lines = keys.map((k) => passwdLine(k)).filter((l): l is string => l !== undefined);
        return { stdout: lines.map((l) => `${l}\n`).join(''), stderr: '', exitCode: lines.length === keys.length ? 0 : 2 };
      },
    };
  }
  if (db !== 'hosts' && db !== 'ahostsv4')
    return { durationMs: NET.local, finish: () => fail(1, `Unknown database: ${db}\nTry \`getent --help' or \`getent --usage' for more information.\n`) };
  const { host, dns } = deps;
  const slow = keys.some((k) => !isIpv4(k) && !resolveName(host.files, dns, k));
  return {
    durationMs: slow ? NET.nxdomain : NET.local,
    finish: () => {
      if (keys.length === 0) {
        const text = (host.files.read('/etc/hosts') ?? '')
          .split('\n')
          .map((l) => l.replace(/#.*$/, '').trim())
          .filter((l) => l !== '')
          .map((l) => {
            const [ip, ...names] = l.split(/\s+/);
            return `${(ip ?? '').padEnd(15)} ${names.join(' ')}\n`;
          })
          .join('');
        return ok(text);
      }
      let stdout = '';
      let missing = false;
      for (const k of keys) {
        const r = isIpv4(k) ? reverseLookup(host.files, k) : resolveName(host.files, dns, k);
        if (!r) {
          missing = true;
          continue;
        }
        if (db === 'ahostsv4') stdout += `${r.ip.padEnd(15)} STREAM ${r.names[0]}\n${r.ip.padEnd(15)} DGRAM  \n${r.ip.padEnd(15)} RAW    \n`;
        else stdout += `${r.ip.padEnd(15)} ${r.names.join(' ')}\n`;
      }
      return { stdout, stderr: '', exitCode: missing ? 2 : 0 };
    },
  };
}

function connectTime(state: PortState, waitMs: number | undefined): number {
  const cap = waitMs ?? Infinity;
  if (state === 'no_route') return Math.min(NET.noRoute, cap);
  if (state === 'timeout') return Math.min(NET.synTimeout, cap);
  return NET.roundTrip;
}

/** nc -z [-v] [-w SECS] HOST PORT (OpenBSD netcat): messages on stderr, only with -v except resolver errors. */
export function nc(deps: NetDeps, args: readonly string[]): CommandPlan {
  let verbose = false;
  let zero = false;
  let wait: number | undefined;
  const operands: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (a === '-w') wait = Number(args[++i]) * 1000;
    else if (/^-w\d+$/.test(a)) wait = Number(a.slice(2)) * 1000;
    else if (/^-[zvn]+$/.test(a)) {
      verbose ||= a.includes('v');
      zero ||= a.includes('z');
    } else if (a.startsWith('-')) return { durationMs: NET.local, finish: () => fail(1, `lab: nc ${a} is not simulated\n`) };
    else operands.push(a);
  }
  if (!zero || operands.length !== 2 || (wait !== undefined && !(wait >= 0))) {
    return { durationMs: NET.local, finish: () => fail(1, 'lab: only `nc -z [-v] [-w SECS] HOST PORT` is simulated\n') };
  }
  const [target, portText] = operands as [string, string];
  const port = Number(portText);
  const resolved = resolveName(deps.host.files, deps.dns, target);
  if (!resolved)
    return { durationMs: NET.nxdomain, finish: () => fail(1, `nc: getaddrinfo for host "${target}" port ${portText}: Name or service not known\n`) };
  const state = deps.connect(resolved.ip, port);
  const timedOut = (state === 'timeout' || state === 'no_route') && wait !== undefined && wait < connectTime(state, undefined);
  return {
    durationMs: connectTime(state, wait),
    finish: () => {
      const svc = SERVICES[port] ?? '*';
      if (state === 'open') return ok('', { stderr: verbose ? `Connection to ${target} (${resolved.ip}) ${port} port [tcp/${svc}] succeeded!\n` : '' });
      const why = timedOut
        ? 'Operation now in progress'
        : state === 'no_route'
          ? 'No route to host'
          : state === 'closed'
            ? 'Connection refused'
            : 'Connection timed out';
      return fail(1, verbose ? `nc: connect to ${target} (${resolved.ip}) port ${port} (tcp) failed: ${why}\n` : '');
    },
  };
}

/**
 * curl against the control-plane APIs (GET /healthz, /readyz): -s -S -f -k -o FILE -w FMT -m/--max-time
 * --connect-timeout -I. curl 8.5's error messages and exit codes.
 */
export function curl(deps: NetDeps, args: readonly string[]): CommandPlan {
  let silent = false;
  let showError = false;
  let failHttp = false;
  let head = false;
  let output: string | undefined;
  let writeOut: string | undefined;
  let maxTime: number | undefined;
  let url: string | undefined;
  const bad = (msg: string): CommandPlan => ({ durationMs: NET.local, finish: () => fail(2, msg) });
  for (let i = 0; i < args.length; i++) {
    const a = args[i] ?? '';
    if (/^-[sSfkIL]+$/.test(a)) {
      silent ||= a.includes('s');
      showError ||= a.includes('S');
      failHttp ||= a.includes('f');
      head ||= a.includes('I');
    } else if (a === '--silent') silent = true;
    else if (a === '--show-error') showError = true;
    else if (a === '--fail') failHttp = true;
    else if (a === '--insecure' || a === '--location') continue;
    else if (a === '-o' || a === '--output') output = args[++i];
    else if (a === '-w' || a === '--write-out') writeOut = args[++i];
    else if (a === '-m' || a === '--max-time' || a === '--connect-timeout') {
      const v = Number(args[++i]);
      if (!(v > 0)) return bad(`curl: option ${a}: expected a proper numerical parameter\ncurl: try 'curl --help' or 'curl --manual' for more information\n`);
      maxTime = Math.min(maxTime ?? Infinity, v * 1000);
    } else if (a.startsWith('-')) return bad(`lab: curl ${a} is not simulated\n`);
    else url = a;
  }
  if (!url) return bad("curl: no URL specified!\ncurl: try 'curl --help' or 'curl --manual' for more information\n");
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return { durationMs: NET.local, finish: () => fail(3, silent && !showError ? '' : `curl: (3) URL rejected: Malformed input to a URL function\n`) };
  }
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  const hostName = parsed.hostname;
  const resolved = resolveName(deps.host.files, deps.dns, hostName);
  const err = (code: number, msg: string, ms: number): CommandPlan => ({
    durationMs: ms,
    finish: () => ({
      stdout: writeOut ? expandWriteOut(writeOut, '000', '') : '',
      stderr: silent && !showError ? '' : `curl: (${code}) ${msg}\n`,
      exitCode: code,
    }),
  });
  if (!resolved) return err(6, `Could not resolve host: ${hostName}`, NET.nxdomain);
  const state = deps.connect(resolved.ip, port);
  const needed = connectTime(state, undefined);
  if ((state === 'timeout' || state === 'no_route') && maxTime !== undefined && maxTime < needed) {
    return err(28, `Failed to connect to ${hostName} port ${port} after ${Math.round(maxTime)} ms: Timeout was reached`, maxTime);
  }
  if (state !== 'open') return err(7, `Failed to connect to ${hostName} port ${port} after ${needed} ms: Couldn't connect to server`, needed);
  const healthy = ['/healthz', '/readyz', '/livez'].includes(parsed.pathname);
  const status = healthy ? 200 : 404;
  const body = healthy ? 'ok\n' : '{"error":{"code":"not_found","message":"no route"}}\n';
  return {
    durationMs: NET.roundTrip * 3,
    finish: (): CommandResult => {
      const headers = `HTTP/2 ${status} \ncontent-type: ${healthy ? 'text/plain; charset=utf-8' : 'application/json'}\ncontent-length: ${body.length}\n\n`;
      let stdout = output === undefined ? (head ? headers : body) : '';
      if (writeOut) stdout += expandWriteOut(writeOut, String(status), resolved.ip);
      if (failHttp && status >= 400) {
        return {
          stdout: writeOut ? expandWriteOut(writeOut, String(status), resolved.ip) : '',
          stderr: silent && !showError ? '' : `curl: (22) The requested URL returned error: ${status}\n`,
          exitCode: 22,
        };
      }
      return ok(stdout);
    },
  };
}

function expandWriteOut(fmt: string, code: string, ip: string): string {
  return fmt
    .replace(/%\{http_code\}|%\{response_code\}/g, code)
    .replace(/%\{remote_ip\}/g, ip)
    .replace(/%\{time_total\}/g, '0.124031')
    .replace(/\\n/g, '\n');
}
