import fs from 'node:fs';
import path from 'node:path';
import { openDatabase, runMigrations } from '../../activities/evidence/database';
import { startLab } from '../../lab';
import { findFreePort } from '../../scripts/free-port';
import { resolveTemporalCli } from '../../scripts/temporal-cli';
import { startTemporalDevServer } from '../../scripts/temporal-dev-server';
import { TEST_ENV_KEYS } from './test-env';

const ROOT = path.resolve(__dirname, '../..');

/**
 * Starts the real components once for the whole test run: a Temporal dev server
 * (the real CLI binary), PostgreSQL (DATABASE_URL or embedded) with migrations,
 * and the lab. Test files reach them through the environment variables set here.
 */
export default async function globalSetup(): Promise<void> {
  // One directory per run, so concurrent runs never share state.
  const dir = path.join(ROOT, '.data', `test-${process.pid}`);
  fs.mkdirSync(dir, { recursive: true });
  const say = (line: string) => process.stderr.write(`[test setup] ${line}\n`);

  const cli = await resolveTemporalCli({ log: say });
  say(`Temporal CLI: ${cli.path} (${cli.source})`);
  const port = await findFreePort();
  const temporal = await startTemporalDevServer({ cliPath: cli.path, dbFile: path.join(dir, 'temporal.db'), port, uiPort: await findFreePort(), log: say });
  say(`Temporal dev server at ${temporal.address}`);

  const db = await openDatabase({ databaseUrl: process.env.DATABASE_URL, dataDir: dir, log: say });
  await runMigrations(db.pool, path.join(ROOT, 'migrations'));
  say(`PostgreSQL at ${db.url.replace(/:[^:@/]*@/, ':***@')}`);

  const lab = await startLab({ dataDir: path.join(dir, 'lab'), extraGpuNodes: 3, drainDelayMs: 200, rebootDelayMs: 500 });
  say(`lab platform API at ${lab.platformUrl}`);

  Object.assign(process.env, {
    [TEST_ENV_KEYS.temporalAddress]: temporal.address,
    [TEST_ENV_KEYS.databaseUrl]: db.url,
    [TEST_ENV_KEYS.inventoryFile]: lab.inventoryPath,
    [TEST_ENV_KEYS.clientKeyFile]: lab.clientKeyPath,
    [TEST_ENV_KEYS.platformUrl]: lab.platformUrl,
    [TEST_ENV_KEYS.platformToken]: lab.platformToken,
  });
  (globalThis as Record<string, unknown>).__gpuaasTestStack = { temporal, db, lab, dir };
}
