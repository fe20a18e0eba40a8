/**
 * Finds (or builds) the Temporal CLI that runs the local dev server.
 *
 * Order, first hit wins:
 *   1. $TEMPORAL_CLI           must exist and be executable, otherwise an error (no fallback)
 *   2. `temporal` on PATH
 *   3. a cached build          ${XDG_CACHE_HOME:-~/.cache}/gpuaas-runbooks/temporal-cli/<version>/temporal
 *   4. go install              `go install github.com/temporalio/cli/cmd/temporal@<version>` into that cache dir
 *   5. sdk-download            the Temporal SDK's own cached download (needs internet access), unless
 *                              the caller passes `allowDownload: false`
 * Every candidate must answer `temporal --version`. There is no fake-server fallback.
 *
 * Run as a script: `tsx infra/temporal-cli.ts [--no-download]` prints the resolved path.
 */
import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { findOnPath, isExecutableFile } from './executables';
import { pidAlive } from './process-alive';

export { findOnPath };

/**
 * The one pinned CLI version. v1.5.1 is the newest tag whose go.mod has no replace
 * directive, so `go install …@v1.5.1` works.
 */
export const TEMPORAL_CLI_VERSION = 'v1.5.1';
export const TEMPORAL_CLI_GO_PACKAGE = 'github.com/temporalio/cli/cmd/temporal';
/** Linker variable holding the version `temporal --version` prints (v1.5.1 layout). */
const TEMPORAL_CLI_VERSION_VAR = 'github.com/temporalio/cli/temporalcli.Version';
const FALLBACK_GO = '/usr/local/go/bin/go';
const HEARTBEAT_MS = 15_000;

export type TemporalCliSource = 'env' | 'path' | 'cache' | 'go-install' | 'sdk-download';

export interface ResolvedTemporalCli {
  path: string;
  source: TemporalCliSource;
  /** First line of `temporal --version`. */
  version: string;
}

export interface ResolveTemporalCliOptions {
  log?: (line: string) => void;
  /** false: never use the SDK's network download (step 5). Default true. */
  allowDownload?: boolean;
  /** Environment to read TEMPORAL_CLI, PATH, XDG_CACHE_HOME, HOME from. Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Interval of the "still building" line while go builds. Default 15 s. */
  heartbeatMs?: number;
}

/** Root of this project's cache: ${XDG_CACHE_HOME:-~/.cache}/gpuaas-runbooks. */
export function cacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg && xdg.trim() !== '' ? xdg : path.join(env.HOME && env.HOME !== '' ? env.HOME : os.homedir(), '.cache');
  return path.join(base, 'gpuaas-runbooks');
}

/** Directory the pinned CLI is built into (GOBIN for `go install`). */
export function temporalCliCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(cacheRoot(env), 'temporal-cli', TEMPORAL_CLI_VERSION);
}

const exeName = process.platform === 'win32' ? 'temporal.exe' : 'temporal';

export function cachedTemporalCliPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(temporalCliCacheDir(env), exeName);
}

/** Runs `<cli> --version`; resolves its first line, rejects with a readable reason. */
export function checkTemporalCliRuns(cliPath: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cliPath, ['--version'], { timeout: 30_000 }, (err, stdout, stderr) => {
      const out = `${stdout}`.trim();
      if (err) {
        const detail = `${stderr}`.trim() || out || err.message;
        reject(new Error(`\`${cliPath} --version\` failed: ${detail}`));
        return;
      }
      if (!/^temporal version/i.test(out)) {
        reject(new Error(`\`${cliPath} --version\` printed something unexpected: ${JSON.stringify(out.slice(0, 200))}`));
        return;
      }
      resolve(out.split('\n')[0]!);
    });
  });
}

function errMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * A directory lock so that two processes starting at once (say `npm start` and `npm test`)
 * do not run two builds into the same GOBIN. A lock whose owner died is taken over.
 */
async function withBuildLock<T>(lockDir: string, log: (line: string) => void, heartbeatMs: number, fn: () => Promise<T>): Promise<T> {
  let lastNote = 0;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      fs.writeFileSync(path.join(lockDir, 'pid'), String(process.pid));
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner: number | undefined;
    try {
      owner = Number(fs.readFileSync(path.join(lockDir, 'pid'), 'utf8').trim()) || undefined;
    } catch {
      owner = undefined;
    }
    let ageMs = 0;
    try {
      ageMs = Date.now() - fs.statSync(lockDir).mtimeMs;
    } catch {
      continue; // lock vanished between mkdir and stat: try again
    }
    // No pid yet and young: the owner is between mkdir and writeFile.
    const stale = owner !== undefined ? !pidAlive(owner) : ageMs > 10_000;
    if (stale) {
      log(`removing stale Temporal CLI build lock ${lockDir}`);
      fs.rmSync(lockDir, { recursive: true, force: true });
      continue;
    }
    if (Date.now() - lastNote >= heartbeatMs) {
      log(`waiting for another process (pid ${owner ?? '?'}) that is building Temporal CLI ${TEMPORAL_CLI_VERSION}...`);
      lastNote = Date.now();
    }
    await sleep(1000);
  }
  try {
    return await fn();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

async function goInstall(goPath: string, env: NodeJS.ProcessEnv, log: (line: string) => void, heartbeatMs: number): Promise<string> {
  const dir = temporalCliCacheDir(env);
  const target = cachedTemporalCliPath(env);
  fs.mkdirSync(dir, { recursive: true });
  return withBuildLock(path.join(dir, '.build.lock'), log, heartbeatMs, async () => {
    // Another process may have finished the build while we waited for the lock.
    if (isExecutableFile(target)) return target;
    const heartbeat = `building Temporal CLI ${TEMPORAL_CLI_VERSION} with go (takes several minutes the first time)...`;
    log(`${heartbeat} [${goPath} install ${TEMPORAL_CLI_GO_PACKAGE}@${TEMPORAL_CLI_VERSION}, GOBIN=${dir}]`);
    const args = [
      'install',
      '-ldflags',
      `-X ${TEMPORAL_CLI_VERSION_VAR}=${TEMPORAL_CLI_VERSION.replace(/^v/, '')}`,
      `${TEMPORAL_CLI_GO_PACKAGE}@${TEMPORAL_CLI_VERSION}`,
    ];
    const child = spawn(goPath, args, {
      env: { ...env, GOBIN: dir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const tail: string[] = [];
    const onLine = (line: string) => {
      if (line.trim() === '') return;
      tail.push(line);
      if (tail.length > 30) tail.shift();
      log(line);
    };
    readline.createInterface({ input: child.stdout }).on('line', onLine);
    readline.createInterface({ input: child.stderr }).on('line', onLine);
    const timer = setInterval(() => log(heartbeat), heartbeatMs);
    try {
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', (c, signal) => resolve(c ?? (signal ? -1 : null)));
      });
      if (code !== 0) {
        throw new Error(`go install exited with ${code}; last output:\n    ${tail.join('\n    ')}`);
      }
    } finally {
      clearInterval(timer);
    }
    if (!isExecutableFile(target)) throw new Error(`go install succeeded but ${target} is missing`);
    return target;
  });
}

function findSdkDownload(dir: string): string | undefined {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return undefined;
  }
  const hit = names
    .filter((n) => /^temporal-/.test(n) && !n.endsWith('.tmp'))
    .sort()
    .pop();
  return hit && isExecutableFile(path.join(dir, hit)) ? path.join(dir, hit) : undefined;
}

/**
 * Last resort: let the SDK's core download the CLI (from temporal.download) into our cache by
 * starting and stopping a throwaway dev server. Needs internet access, and creates the SDK's
 * default Runtime in this process (so call it before Runtime.install, or in a separate process
 * such as `tsx infra/temporal-cli.ts`).
 */
async function sdkDownload(env: NodeJS.ProcessEnv, log: (line: string) => void): Promise<string> {
  const dir = path.join(cacheRoot(env), 'temporal-cli', 'sdk-download');
  const existing = findSdkDownload(dir);
  if (existing) return existing;
  fs.mkdirSync(dir, { recursive: true });
  log('downloading the Temporal CLI through the Temporal SDK (needs internet access)...');
  let testing: typeof import('@temporalio/testing');
  try {
    testing = await import('@temporalio/testing');
  } catch (err) {
    throw new Error(`@temporalio/testing is not installed (${errMessage(err)})`);
  }
  const timeoutMs = 5 * 60_000;
  let timer: NodeJS.Timeout | undefined;
  const envPromise = testing.TestWorkflowEnvironment.createLocal({
    server: { executable: { type: 'cached-download', downloadDir: dir, ttl: '3650d' }, ui: false },
  });
  try {
    const testEnv = await Promise.race([
      envPromise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000}s`)), timeoutMs);
      }),
    ]);
    await testEnv.teardown();
  } finally {
    if (timer) clearTimeout(timer);
  }
  const downloaded = findSdkDownload(dir);
  if (!downloaded) throw new Error(`the SDK started a server but no CLI binary was found in ${dir}`);
  return downloaded;
}

export async function resolveTemporalCli(opts: ResolveTemporalCliOptions = {}): Promise<ResolvedTemporalCli> {
  const env = opts.env ?? process.env;
  const log = opts.log ?? (() => undefined);
  const heartbeatMs = opts.heartbeatMs ?? HEARTBEAT_MS;
  const tried: string[] = [];

  // 1. $TEMPORAL_CLI: an explicit choice; a bad one is an error, not a reason to look elsewhere.
  const fromEnv = env.TEMPORAL_CLI;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!fs.existsSync(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv}: no such file`);
    if (!isExecutableFile(fromEnv)) throw new Error(`TEMPORAL_CLI=${fromEnv}: not an executable file (chmod +x it?)`);
    let version: string;
    try {
      version = await checkTemporalCliRuns(fromEnv);
    } catch (err) {
      throw new Error(`TEMPORAL_CLI=${fromEnv} does not run: ${errMessage(err)}`);
    }
    log(`using Temporal CLI from $TEMPORAL_CLI: ${fromEnv} (${version})`);
    return { path: fromEnv, source: 'env', version };
  }
  tried.push('$TEMPORAL_CLI: not set');

  // 2. PATH
  const onPath = findOnPath(exeName, env);
  if (onPath) {
    try {
      const version = await checkTemporalCliRuns(onPath);
      log(`using Temporal CLI from PATH: ${onPath} (${version})`);
      return { path: onPath, source: 'path', version };
    } catch (err) {
      tried.push(`PATH: ${onPath} found but ${errMessage(err)}`);
    }
  } else {
    tried.push('PATH: no `temporal` on PATH');
  }

  // 3. cached build
  const cached = cachedTemporalCliPath(env);
  if (isExecutableFile(cached)) {
    try {
      const version = await checkTemporalCliRuns(cached);
      log(`using cached Temporal CLI build: ${cached} (${version})`);
      return { path: cached, source: 'cache', version };
    } catch (err) {
      tried.push(`cache: ${errMessage(err)}`);
      fs.rmSync(cached, { force: true }); // broken build: let go install replace it
    }
  } else {
    tried.push(`cache: ${cached} does not exist`);
  }

  // 4. go install
  const goPath = findOnPath('go', env) ?? (isExecutableFile(FALLBACK_GO) ? FALLBACK_GO : undefined);
  if (goPath) {
    try {
      const built = await goInstall(goPath, env, log, heartbeatMs);
      const version = await checkTemporalCliRuns(built);
      log(`built Temporal CLI: ${built} (${version})`);
      return { path: built, source: 'go-install', version };
    } catch (err) {
      tried.push(`go install ${TEMPORAL_CLI_GO_PACKAGE}@${TEMPORAL_CLI_VERSION} (with ${goPath}): ${errMessage(err)}`);
    }
  } else {
    tried.push(`go install: no \`go\` on PATH or at ${FALLBACK_GO}`);
  }

  // 5. the SDK's download, only as a last resort
  if (opts.allowDownload === false) {
    tried.push('sdk-download: not allowed (allowDownload: false)');
  } else {
    try {
      const downloaded = await sdkDownload(env, log);
      const version = await checkTemporalCliRuns(downloaded);
      log(`using Temporal CLI downloaded by the SDK: ${downloaded} (${version})`);
      return { path: downloaded, source: 'sdk-download', version };
    } catch (err) {
      tried.push(`sdk-download: ${errMessage(err)}`);
    }
  }

  throw new Error(
    [
      `Could not find or build the Temporal CLI (${TEMPORAL_CLI_VERSION}). Tried:`,
      ...tried.map((t) => `  - ${t}`),
      'Fix one of: set TEMPORAL_CLI=/path/to/temporal; put `temporal` on PATH; install Go (https://go.dev/dl/) so it can be built;',
      'or set TEMPORAL_ADDRESS to an existing Temporal server.',
    ].join('\n'),
  );
}

if (require.main === module) {
  const allowDownload = !process.argv.includes('--no-download');
  resolveTemporalCli({ allowDownload, log: (line) => process.stderr.write(`${line}\n`) }).then(
    (cli) => {
      process.stdout.write(`${cli.path}\n`);
      process.stderr.write(`(source: ${cli.source}; ${cli.version})\n`);
    },
    (err: unknown) => {
      process.stderr.write(`${errMessage(err)}\n`);
      process.exit(1);
    },
  );
}
