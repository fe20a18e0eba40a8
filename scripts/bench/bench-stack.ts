import fs from 'node:fs';
import path from 'node:path';
import { findFreePort } from '../../infra/free-port';
import { startStack, type Stack, type StackOptions } from '../stack';

/**
 * The frame every benchmark shares: a stack of its own (dev server, PostgreSQL,
 * lab) under .data/<tag>-<pid> on free ports (DATABASE_URL honoured), `body`
 * run on it, the stack always stopped (its data kept with KEEP_BENCH_DATA), a
 * failure printed once, before the shutdown lines, and the exit status set.
 */
export function runBench(tag: string, what: string, lab: NonNullable<StackOptions['lab']>, body: (stack: Stack) => Promise<void>): void {
  const say = (line: string) => console.log(`[${tag}] ${line}`);
  const root = path.resolve(__dirname, '../..');
  const main = async () => {
    const dataDir = path.join(root, '.data', `${tag.replace(':', '-')}-${process.pid}`);
    fs.mkdirSync(dataDir, { recursive: true });
    say(`starting the stack in ${path.relative(root, dataDir)}: ${what}`);
    let stack: Stack | undefined;
    try {
      stack = await startStack({
        dataDir,
        log: (line) => say(`stack: ${line}`),
        temporalPort: await findFreePort(),
        temporalUiPort: await findFreePort(),
        databaseUrl: process.env.DATABASE_URL,
        redisUrl: process.env.REDIS_URL,
        orchestratorDbUrl: process.env.ORCHESTRATOR_DB_URL,
        lab,
      });
      await body(stack);
    } catch (err) {
      console.error(`[${tag}] failed:`, err);
      throw err;
    } finally {
      say('stopping the stack');
      await stack?.stop();
      if (!process.env.KEEP_BENCH_DATA) fs.rmSync(dataDir, { recursive: true, force: true });
    }
  };
  main().then(
    () => process.exit(0),
    () => process.exit(1),
  );
}
