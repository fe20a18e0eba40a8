/**
 * A worker process on its own, for scaling out or restarting independently of
 * the API: `npm run worker`. Needs an existing Temporal server, database and
 * fleet: TEMPORAL_ADDRESS, DATABASE_URL, INVENTORY_FILE, SSH_PRIVATE_KEY_FILE,
 * PLATFORM_API_URL, PLATFORM_API_TOKEN (npm start prints the values for its lab).
 */
import { Pool } from 'pg';
import { TokenFile } from '../api/auth/token-file';
import { ConfigError, loadConfig } from '../config';
import { bootstrapProcess, connectTemporal } from '../runtime/bootstrap';
import { fleetWiring } from './fleet';
import { composeActivities } from './compose';
import { createRunbookWorker } from './worker';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporal.address || !config.databaseUrl || config.fleet.mode !== 'inventory') {
    throw new ConfigError('A standalone worker needs an existing server, database and fleet:', [
      ...(!config.temporal.address ? ['TEMPORAL_ADDRESS: required'] : []),
      ...(!config.databaseUrl ? ['DATABASE_URL: required'] : []),
      ...(config.fleet.mode !== 'inventory' ? ['INVENTORY_FILE: required (with SSH_PRIVATE_KEY_FILE, PLATFORM_API_URL, PLATFORM_API_TOKEN)'] : []),
    ]);
  }
  const { logger, tracing, logShipping } = bootstrapProcess(config, 'gpuaas-runbooks-worker');
  const temporal = await connectTemporal(config.temporal.address, config.temporal.namespace, config.temporal.security);
  const pool = new Pool({ connectionString: config.databaseUrl, max: 10 });
  const fleet = fleetWiring(config, undefined);
  const worker = await createRunbookWorker({
    connection: temporal.nativeConnection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    tracing,
    shutdownGraceMs: config.worker.shutdownGraceMs,
    maxCachedWorkflows: config.worker.maxCachedWorkflows,
    activities: composeActivities({
      ...fleet,
      pool,
      logger,
      ssh: config.ssh,
      temporal: temporal.client,
      budgets: config.budgets,
      ledgerTaskQueue: config.temporal.ledgerTaskQueue,
      faultInjectionUrl: config.drills.faultUrl,
      faultInjectionToken: config.drills.faultToken?.reveal(),
      // A signal's actor is checked against the API's tokens file (mount the same file on workers).
      approvals: { ...config.approvals, principals: new TokenFile(config.auth.tokensFile) },
    }),
  });
  logger.info({ task_queue: config.temporal.taskQueue, hosts: fleet.inventory.hosts.length }, 'worker started');
  // worker.run() resolves after SIGINT/SIGTERM: the SDK drains in-flight tasks first.
  await worker.run();
  await pool.end();
  await temporal.close();
  await tracing.shutdown();
  logger.info('worker stopped');
  await logShipping.close();
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
