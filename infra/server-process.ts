/**
 * A server this process starts and owns (redis-server, mariadbd). It runs in its own process
 * group, so Ctrl-C reaches us first and we stop it after the worker has drained (as with
 * embedded PostgreSQL); it is killed if this process exits without calling stop().
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import readline from 'node:readline';
import { pidAlive } from './process-alive';

export interface OwnedServer {
  pid: number;
  /** Why it is no longer running (exit status, signal or spawn error); undefined while it runs. */
  exitReason(): string | undefined;
  /** Its last lines on stdout/stderr and in its log file, for error messages. */
  lastOutput(): string;
  /** SIGTERM, then SIGKILL after `killAfterMs`; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export interface SpawnServerOptions {
  cwd: string;
  /** The file the server logs to, when not stdout/stderr. */
  logFile?: string;
  /** How long a SIGTERM may take before SIGKILL. Default 30 s (a database flushing its log). */
  killAfterMs?: number;
}

const TAIL_LINES = 30;

function tailOfFile(file: string): string[] {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-TAIL_LINES);
  } catch {
    return [];
  }
}

export function spawnServer(cmd: string, args: string[], opts: SpawnServerOptions): OwnedServer {
  const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const tail: string[] = [];
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    tail.push(line);
    if (tail.length > TAIL_LINES) tail.shift();
  };
  readline.createInterface({ input: child.stdout }).on('line', onLine);
  readline.createInterface({ input: child.stderr }).on('line', onLine);

  let reason: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      reason ??= `exited with ${code ?? signal}`;
      resolve();
    });
    child.once('error', (err) => {
      reason ??= err.message;
      resolve();
    });
  });
  const onExit = () => {
    if (reason === undefined) child.kill('SIGTERM');
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (reason !== undefined) return;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        if (reason === undefined) child.kill('SIGKILL');
      }, opts.killAfterMs ?? 30_000);
      await exited;
      clearTimeout(killTimer);
    })());

  return {
    pid: child.pid ?? -1,
    exitReason: () => reason,
    lastOutput: () => [...tail, ...(opts.logFile ? tailOfFile(opts.logFile) : [])].join('\n    '),
    stop,
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it resolves. Fails as soon as the server exits, or after `timeoutMs`,
 * with the probe's last error and the server's last output; either way the server is stopped.
 */
export async function waitUntilReady(server: OwnedServer, what: string, probe: () => Promise<void>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  for (;;) {
    const exited = server.exitReason();
    if (exited !== undefined) {
      await server.stop(); // nothing to signal; drops the exit hook
      throw new Error(`${what} ${exited} before it was ready. Last output:\n    ${server.lastOutput()}`);
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`${what} did not answer within ${timeoutMs / 1000}s (last error: ${lastError}). Last output:\n    ${server.lastOutput()}`);
    }
    try {
      await probe();
      return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
    }
    await sleep(100);
  }
}

/** The pid in `pidFile` when that process is alive: a server still running on this data directory. */
export function livePidIn(pidFile: string): number | undefined {
  let pid: number;
  try {
    pid = Number(fs.readFileSync(pidFile, 'utf8').trim());
  } catch {
    return undefined;
  }
  return Number.isInteger(pid) && pid > 0 && pidAlive(pid) ? pid : undefined;
}
