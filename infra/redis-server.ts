/**
 * The orchestrator's Redis (job streams, DLQ), resolved like the Temporal CLI:
 *   1. REDIS_URL             must answer PING, otherwise an error (no fallback)
 *   2. `redis-server` on PATH started under <dataDir>/redis on a free port of 127.0.0.1
 *   3. otherwise an error saying how to install it. There is no fake.
 *
 * The started server persists streams in its append-only file (AOF) and takes no RDB
 * snapshots; its settings, including a password kept in redis.password, are in a redis.conf
 * (0600) beside its data rather than on its command line, where `ps` would show the password.
 */
import fs from 'node:fs';
import path from 'node:path';
import Redis from 'ioredis';
import { findOnPath } from './executables';
import { findFreePort } from './free-port';
import { keptPassword } from './kept-password';
import { redactUrl } from './redact-url';
import { livePidIn, spawnServer, waitUntilReady } from './server-process';

export interface ResolveRedisOptions {
  /** A started server keeps its data, config and log in <dataDir>/redis. */
  dataDir: string;
  /** REDIS_URL: use this server and start none. */
  redisUrl?: string;
  /** Where to look for redis-server (PATH). Default process.env. */
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** How long a started server may take to answer PING. Default 30 s. */
  readyTimeoutMs?: number;
}

export interface ResolvedRedis {
  url: string;
  source: 'env' | 'started';
  /** Shuts a started server down and waits for it to exit; nothing for REDIS_URL. Idempotent. */
  stop(): Promise<void>;
}

export const REDIS_INSTALL_HINT = 'Install it (Debian/Ubuntu: `apt-get install redis-server`) or set REDIS_URL=redis://host:6379 to use a running one.';

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** One connection, one PING, closed again; rejects with the reason it got no PONG. */
export async function pingRedis(url: string): Promise<void> {
  // No retries and no offline queue: a server that is not there yet must fail this probe now.
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 2_000, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  // connect() then only says "Connection is closed"; the error event says why (ECONNREFUSED, WRONGPASS).
  let cause: Error | undefined;
  client.on('error', (err: Error) => (cause ??= err));
  try {
    await client.connect();
    const answer = await client.ping();
    if (answer !== 'PONG') throw new Error(`PING answered ${JSON.stringify(answer)}`);
  } catch (err) {
    throw cause ?? err;
  } finally {
    client.disconnect();
  }
}

/** A value in redis.conf: quoted, so a data directory with spaces stays one argument. */
function confString(value: string): string {
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

export async function resolveRedis(opts: ResolveRedisOptions): Promise<ResolvedRedis> {
  const log = opts.log ?? (() => undefined);
  if (opts.redisUrl) {
    try {
      await pingRedis(opts.redisUrl);
    } catch (err) {
      throw new Error(`REDIS_URL=${redactUrl(opts.redisUrl, 'REDIS_URL')} does not answer PING: ${errMessage(err)}`);
    }
    log(`using Redis at ${redactUrl(opts.redisUrl)} (REDIS_URL)`);
    return { url: opts.redisUrl, source: 'env', stop: async () => undefined };
  }

  const binary = findOnPath('redis-server', opts.env ?? process.env);
  if (!binary) throw new Error(`No Redis: REDIS_URL is not set and there is no \`redis-server\` on PATH. ${REDIS_INSTALL_HINT}`);

  const dir = path.resolve(opts.dataDir, 'redis');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pidFile = path.join(dir, 'redis.pid');
  const running = livePidIn(pidFile);
  if (running !== undefined) {
    throw new Error(`a redis-server (pid ${running}) already runs on ${dir}: stop it (kill ${running}), use another DATA_DIR, or set REDIS_URL to it.`);
  }

  const password = keptPassword(path.join(dir, 'redis.password'));
  const port = await findFreePort({ host: '127.0.0.1' });
  const logFile = path.join(dir, 'redis.log');
  const confFile = path.join(dir, 'redis.conf');
  const conf = [
    'bind 127.0.0.1',
    `port ${port}`,
    `dir ${confString(dir)}`,
    `pidfile ${confString(pidFile)}`,
    `logfile ${confString(logFile)}`,
    `requirepass ${confString(password)}`,
    // The orchestrator's streams must survive a restart: every write goes to the AOF...
    'appendonly yes',
    // ...and there are no RDB snapshots to compete with it.
    'save ""',
    'daemonize no',
  ];
  fs.writeFileSync(confFile, `${conf.join('\n')}\n`, { mode: 0o600 });
  fs.chmodSync(confFile, 0o600); // an older file keeps its mode through writeFileSync

  log(`starting redis-server: ${binary} ${confFile} (127.0.0.1:${port}, data ${dir})`);
  const server = spawnServer(binary, [confFile], { cwd: dir, logFile, killAfterMs: 10_000 });
  const url = `redis://:${encodeURIComponent(password)}@127.0.0.1:${port}`;
  await waitUntilReady(server, `redis-server (${binary})`, () => pingRedis(url), opts.readyTimeoutMs ?? 30_000);
  log(`Redis ready on 127.0.0.1:${port} (pid ${server.pid}, AOF in ${dir})`);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      // SIGTERM: Redis fsyncs the AOF and exits; with no save points it writes no snapshot.
      await server.stop();
      log('Redis stopped');
    })());
  return { url, source: 'started', stop };
}
