/**
 * Starts `temporal server start-dev` (SQLite file, Web UI) as a child process, waits until its
 * frontend answers, and makes sure our custom search attributes are registered.
 *
 * Run as a script: `tsx scripts/temporal-dev-server.ts [dbFile]` runs one in the foreground
 * until Ctrl-C (ports from TEMPORAL_PORT / TEMPORAL_UI_PORT, default 7233 / 8233).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { Connection } from '@temporalio/client';
import { ALL_SEARCH_ATTRIBUTES } from '../domain/search-attributes';
import { assertPortFree } from './free-port';
import { ensureSearchAttributes, searchAttributeCliPairs } from './search-attributes';

export interface TemporalDevServerOptions {
  cliPath: string;
  /** SQLite file that keeps workflow state across restarts; its directory is created. */
  dbFile: string;
  port?: number;
  uiPort?: number;
  namespace?: string;
  ip?: string;
  log?: (line: string) => void;
  /** How long to wait for the frontend to answer. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface TemporalDevServer {
  /** host:port for Connection.connect / NativeConnection.connect */
  address: string;
  uiUrl: string;
  namespace: string;
  pid: number;
  /** SIGTERM, then SIGKILL after 5 s; resolves when the process has exited. Idempotent. */
  stop(): Promise<void>;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The address clients should dial for a server bound to `ip`. */
function dialHost(ip: string): string {
  if (ip === '0.0.0.0') return '127.0.0.1';
  if (ip === '::') return '[::1]';
  return ip.includes(':') && !ip.startsWith('[') ? `[${ip}]` : ip;
}

export async function startTemporalDevServer(opts: TemporalDevServerOptions): Promise<TemporalDevServer> {
  const port = opts.port ?? 7233;
  const uiPort = opts.uiPort ?? 8233;
  const namespace = opts.namespace ?? 'default';
  const ip = opts.ip ?? '127.0.0.1';
  const log = opts.log ?? (() => undefined);
  const readyTimeoutMs = opts.readyTimeoutMs ?? 30_000;

  await assertPortFree(
    port,
    ip,
    'the Temporal dev server frontend',
    `Another Temporal server is probably running: stop it, use it with TEMPORAL_ADDRESS=${dialHost(ip)}:${port}, or set TEMPORAL_PORT to another port.`,
  );
  await assertPortFree(uiPort, ip, 'the Temporal Web UI', 'Stop whatever listens there, or set TEMPORAL_UI_PORT to another port.');

  const dbFile = path.resolve(opts.dbFile);
  fs.mkdirSync(path.dirname(dbFile), { recursive: true });

  const args = [
    'server',
    'start-dev',
    '--db-filename',
    dbFile,
    '--port',
    String(port),
    '--ui-port',
    String(uiPort),
    '--ip',
    ip,
    '--namespace',
    namespace,
    '--log-level',
    'warn',
    // The same dynamic config the SDK's own dev-server launcher sets.
    '--dynamic-config-value',
    'frontend.enableServerVersionCheck=false',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecution=true',
    '--dynamic-config-value',
    'frontend.enableUpdateWorkflowExecutionAsyncAccepted=true',
    ...searchAttributeCliPairs(ALL_SEARCH_ATTRIBUTES).flatMap((pair) => ['--search-attribute', pair]),
  ];
  log(`starting Temporal dev server: ${opts.cliPath} ${args.join(' ')}`);
  const child: ChildProcess = spawn(opts.cliPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });

  const tail: string[] = [];
  let stopRequested = false;
  const onLine = (line: string) => {
    if (line.trim() === '') return;
    // While shutting down, the server's internal clients log connection-refused warnings: noise.
    if (stopRequested && /level=WARN/.test(line)) return;
    tail.push(line);
    if (tail.length > 40) tail.shift();
    log(`[temporal] ${line}`);
  };
  readline.createInterface({ input: child.stdout! }).on('line', onLine);
  readline.createInterface({ input: child.stderr! }).on('line', onLine);

  let exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let spawnError: Error | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      resolve();
    });
    child.once('error', (err) => {
      spawnError = err;
      exitInfo ??= { code: null, signal: null };
      resolve();
    });
  });

  // Do not leave the server running (holding its ports) if this process exits without stop().
  const onExit = () => {
    if (!exitInfo) child.kill('SIGTERM');
  };
  process.once('exit', onExit);

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      process.removeListener('exit', onExit);
      if (exitInfo) return;
      stopRequested = true;
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => {
        if (!exitInfo) child.kill('SIGKILL');
      }, 5_000);
      await exited;
      clearTimeout(killTimer);
    })();
    return stopping;
  };

  const address = `${dialHost(ip)}:${port}`;
  const uiUrl = `http://${dialHost(ip)}:${uiPort}`;
  const deadline = Date.now() + readyTimeoutMs;
  let lastError: unknown;
  let connection: Connection | undefined;
  try {
    while (!connection) {
      if (exitInfo) {
        const why = spawnError ? spawnError.message : `exited with ${exitInfo.code ?? exitInfo.signal}`;
        throw new Error(`Temporal dev server (${opts.cliPath}) ${why} before it was ready. Last output:\n    ${tail.join('\n    ')}`);
      }
      if (Date.now() > deadline) {
        throw new Error(
          `Temporal dev server did not answer on ${address} within ${readyTimeoutMs / 1000}s` +
            ` (last error: ${lastError instanceof Error ? lastError.message : String(lastError)}). Last output:\n    ${tail.join('\n    ')}`,
        );
      }
      try {
        const c = await Connection.connect({ address, connectTimeout: 2_000 });
        try {
          await c.workflowService.describeNamespace({ namespace });
          connection = c;
        } catch (err) {
          await c.close();
          throw err;
        }
      } catch (err) {
        lastError = err;
        await Promise.race([sleep(250), exited]);
      }
    }
    try {
      await ensureSearchAttributes(connection, namespace, { log });
    } finally {
      await connection.close();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  log(`Temporal dev server ready at ${address} (namespace ${namespace}), Web UI ${uiUrl}`);
  return { address, uiUrl, namespace, pid: child.pid!, stop };
}

if (require.main === module) {
  void (async () => {
    const { resolveTemporalCli } = await import('./temporal-cli');
    const log = (line: string) => process.stderr.write(`${line}\n`);
    try {
      const cli = await resolveTemporalCli({ log });
      const server = await startTemporalDevServer({
        cliPath: cli.path,
        dbFile: process.argv[2] ?? path.join(process.env.DATA_DIR ?? '.data', 'temporal.sqlite'),
        port: process.env.TEMPORAL_PORT ? Number(process.env.TEMPORAL_PORT) : undefined,
        uiPort: process.env.TEMPORAL_UI_PORT ? Number(process.env.TEMPORAL_UI_PORT) : undefined,
        log,
      });
      process.stdout.write(`${server.address} ${server.uiUrl}\n`);
      const shutdown = () => void server.stop().then(() => process.exit(0));
      process.once('SIGINT', shutdown);
      process.once('SIGTERM', shutdown);
    } catch (err) {
      process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    }
  })();
}
