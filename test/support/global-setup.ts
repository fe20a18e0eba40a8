import fs from 'node:fs';
import path from 'node:path';
import { findFreePort } from '../../infra/free-port';
import { startStack } from '../../scripts/stack';
import { TEST_ENV_KEYS } from './test-env';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Starts the real components once for the whole test run: a Temporal dev server
 * (the real CLI binary), PostgreSQL (DATABASE_URL or embedded) with migrations,
 * the orchestrator's Redis (REDIS_URL or a started redis-server) and SQL databases
 * (MariaDB, and PostgreSQL beside the engine's), and the lab. Test files reach them
 * through the environment variables set here.
 */
export default async function globalSetup(): Promise<void> {
  // One directory per run, so concurrent runs never share state.
  const dir = path.join(ROOT, '.data', `test-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  const stack = await startStack({
    dataDir: dir,
    log: (line) => process.stderr.write(`[test setup] ${line}\n`),
    temporalPort: await findFreePort(),
    temporalUiPort: await findFreePort(),
    databaseUrl: process.env.DATABASE_URL,
    redisUrl: process.env.REDIS_URL,
    orchestratorDbUrl: process.env.ORCHESTRATOR_DB_URL,
    // Real durations × 0.002: diag r2 ≈ 240 ms, r3 ≈ 1.8 s, a reboot ≈ 360 ms.
    lab: { extraGpuNodes: 3, drainDelayMs: 200, timeScale: 0.002 },
  });
  const lab = stack.lab!;
  Object.assign(process.env, {
    [TEST_ENV_KEYS.temporalAddress]: stack.temporalAddress,
    [TEST_ENV_KEYS.databaseUrl]: stack.db.url,
    [TEST_ENV_KEYS.inventoryFile]: lab.inventoryPath,
    [TEST_ENV_KEYS.clientKeyFile]: lab.clientKeyPath,
    [TEST_ENV_KEYS.platformUrl]: lab.platformUrl,
    [TEST_ENV_KEYS.platformToken]: lab.platformToken,
    [TEST_ENV_KEYS.temporalUiUrl]: stack.temporalUiUrl ?? '',
    [TEST_ENV_KEYS.redisUrl]: stack.redis.url,
    // Empty when ORCHESTRATOR_DB_URL chose PostgreSQL: the MySQL lock tests then fail (testEnv refuses it), never skip.
    [TEST_ENV_KEYS.orchestratorMysqlUrl]: stack.orchestratorMysql?.url ?? '',
    [TEST_ENV_KEYS.orchestratorPgUrl]: stack.orchestratorPg.url,
  });
  (globalThis as Record<string, unknown>).__gpuaasTestStack = { stack, dir };
}
