/**
 * A MariaDB server of the project's own, for the orchestrator's database when no MySQL or
 * MariaDB on this machine can be used: `mariadbd` (or `mysqld`) from PATH or /usr/sbin, data
 * made once by mariadb-install-db in <dir>/data, its own free port on 127.0.0.1 and its own
 * socket in <dir> (never the system server's /run/mysqld). root's password is generated at
 * install time and kept in <dir>/root.password (0600).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { createConnection } from 'mysql2/promise';
import { findOnPath } from './executables';
import { findFreePort } from './free-port';
import { keptPassword } from './kept-password';
import { livePidIn, spawnServer, waitUntilReady } from './server-process';

/** Where Debian puts mariadbd; not on a normal user's PATH. */
export const SBIN_DIRS = ['/usr/local/sbin', '/usr/sbin'] as const;

export interface MariadbBinaries {
  server: string;
  installDb: string;
}

export interface StartedMariadb {
  /** mysql://root:…@127.0.0.1:<port>/ (no database). */
  url: string;
  pid: number;
  /** SIGTERM (a clean shutdown), SIGKILL after 30 s; resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

export function findMariadbBinaries(env: NodeJS.ProcessEnv, extraDirs: readonly string[] = SBIN_DIRS): MariadbBinaries | undefined {
  const server = findOnPath('mariadbd', env, extraDirs) ?? findOnPath('mysqld', env, extraDirs);
  // mysql_install_db is the older name of the same script (still shipped by MariaDB).
  const installDb = findOnPath('mariadb-install-db', env, extraDirs) ?? findOnPath('mysql_install_db', env, extraDirs);
  return server && installDb ? { server, installDb } : undefined;
}

/** One connection, `SELECT 1`, closed again. */
export async function pingMysql(url: string): Promise<void> {
  const connection = await createConnection({ uri: url, connectTimeout: 2_000 });
  try {
    await connection.query('SELECT 1');
  } finally {
    await connection.end().catch(() => connection.destroy());
  }
}

function run(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { maxBuffer: 4 * 1024 * 1024 }, (err, stdout, stderr) =>
      err
        ? reject(
            new Error(
              `${path.basename(cmd)} failed (${err.message.split('\n')[0]}):\n    ${`${stdout}${stderr}`.trim().split('\n').slice(-20).join('\n    ')}`,
            ),
          )
        : resolve(),
    );
  });
}

/** mariadbd refuses to run as root unless told to; files then stay root's. */
function asUserArgs(): string[] {
  return typeof process.getuid === 'function' && process.getuid() === 0 ? ['--user=root'] : [];
}

async function installDataDir(bins: MariadbBinaries, dir: string, dataDir: string, log: (line: string) => void): Promise<void> {
  if (fs.existsSync(dataDir) && fs.readdirSync(dataDir).length > 0) {
    throw new Error(`${dataDir} is not empty but has no mysql/ system database: not a MariaDB data directory. Move it away (or set ORCHESTRATOR_DB_URL).`);
  }
  const passwordFile = path.join(dir, 'root.password');
  fs.rmSync(passwordFile, { force: true }); // a password from an older data directory would not match
  const password = keptPassword(passwordFile);
  // Run by mariadb-install-db after it made the system tables, before any port is open. It runs
  // with --skip-grant-tables: FLUSH PRIVILEGES loads them so that ALTER USER works.
  const sqlFile = path.join(dir, 'set-root-password.sql');
  const literal = `'${password}'`; // base64url: nothing to escape
  const sql = ['FLUSH PRIVILEGES;', ...['localhost', '127.0.0.1', '::1'].map((host) => `ALTER USER IF EXISTS 'root'@'${host}' IDENTIFIED BY ${literal};`)];
  fs.writeFileSync(sqlFile, `${sql.join('\n')}\n`, { mode: 0o600 });
  log(`initialising a MariaDB data directory in ${dataDir}`);
  try {
    await run(bins.installDb, [
      '--no-defaults',
      `--datadir=${dataDir}`,
      '--auth-root-authentication-method=normal',
      '--skip-name-resolve',
      '--skip-test-db',
      `--extra-file=${sqlFile}`,
      ...asUserArgs(),
    ]);
  } catch (err) {
    fs.rmSync(dataDir, { recursive: true, force: true }); // half made: the next start makes it again
    throw err;
  } finally {
    fs.rmSync(sqlFile, { force: true });
  }
}

export async function startMariadb(bins: MariadbBinaries, dir: string, log: (line: string) => void, readyTimeoutMs = 60_000): Promise<StartedMariadb> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const pidFile = path.join(dir, 'mysqld.pid');
  const running = livePidIn(pidFile);
  if (running !== undefined) {
    throw new Error(
      `a MariaDB server (pid ${running}) already runs on ${dir}: stop it (kill ${running}), use another DATA_DIR, or set ORCHESTRATOR_DB_URL to it.`,
    );
  }
  const dataDir = path.join(dir, 'data');
  const passwordFile = path.join(dir, 'root.password');
  if (!fs.existsSync(path.join(dataDir, 'mysql'))) {
    await installDataDir(bins, dir, dataDir, log);
  } else if (!fs.existsSync(passwordFile)) {
    throw new Error(`${passwordFile} is missing, so root's password in ${dataDir} is unknown: move ${dir} away to start afresh, or set ORCHESTRATOR_DB_URL.`);
  }
  const password = keptPassword(passwordFile);

  const port = await findFreePort({ host: '127.0.0.1' });
  const logFile = path.join(dir, 'error.log');
  const args = [
    '--no-defaults', // never the system server's my.cnf (its datadir, socket and port)
    `--datadir=${dataDir}`,
    `--port=${port}`,
    '--bind-address=127.0.0.1',
    `--socket=${path.join(dir, 'mysqld.sock')}`,
    `--pid-file=${pidFile}`,
    `--log-error=${logFile}`,
    '--skip-name-resolve',
    ...asUserArgs(),
  ];
  log(`starting MariaDB: ${bins.server} ${args.join(' ')}`);
  const server = spawnServer(bins.server, args, { cwd: dir, logFile });
  const url = `mysql://root:${encodeURIComponent(password)}@127.0.0.1:${port}/`;
  await waitUntilReady(server, `MariaDB (${bins.server})`, () => pingMysql(url), readyTimeoutMs);
  log(`MariaDB ready on 127.0.0.1:${port} (pid ${server.pid}, data ${dataDir})`);
  return { url, pid: server.pid, stop: () => server.stop() };
}
