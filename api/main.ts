/**
 * The API on its own: `npm run api`. Needs TEMPORAL_ADDRESS and DATABASE_URL;
 * `npm start` runs it together with everything else.
 */
import fs from 'node:fs';
import path from 'node:path';
import { Pool } from 'pg';
import { ConfigError, loadConfig, loadInventory, type Config } from '../config';
import type { Inventory } from '../domain/inventory';
import { assertPortFree } from '../infra/free-port';
import { bootstrapProcess, connectTemporal } from '../runtime/bootstrap';
import { buildApi } from './server';
import { authenticatorsFor } from './auth/authenticate';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporal.address || !config.databaseUrl) {
    throw new ConfigError('A standalone API needs an existing server and database:', [
      ...(!config.temporal.address ? ['TEMPORAL_ADDRESS: required'] : []),
      ...(!config.databaseUrl ? ['DATABASE_URL: required'] : []),
    ]);
  }
  await assertPortFree(config.api.port, config.api.host, 'the HTTP API', 'Set API_PORT to use another port.');
  const { logger, tracing, logShipping } = bootstrapProcess(config, 'gpuaas-runbooks-api');
  const temporal = await connectTemporal(config.temporal.address, config.temporal.namespace, config.temporal.security);
  const inventory = apiInventory(config);
  // Bounded waits, so a database that hangs answers 503 instead of holding requests.
  const pool = new Pool({ connectionString: config.databaseUrl, max: 10, connectionTimeoutMillis: 1_500, query_timeout: 1_500 });
  pool.on('error', (err) => logger.warn({ err }, 'PostgreSQL idle client error'));
  const app = buildApi({
    client: temporal.client,
    pool,
    taskQueue: config.temporal.taskQueue,
    logger,
    inventory,
    alertCooldownMs: config.alerts.cooldownMs,
    auth: authenticatorsFor(config.auth),
    temporalUiUrl: config.temporal.uiUrl,
  });
  await app.listen({ host: config.api.host, port: config.api.port });
  const stop = async () => {
    await app.close();
    await pool.end();
    await temporal.close();
    await tracing.shutdown();
    await logShipping.close();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/**
 * The hosts triggers may name: the real fleet's INVENTORY_FILE, or else the inventory the
 * lab writes when `npm start` starts it (startStack puts the lab under <DATA_DIR>/lab).
 */
function apiInventory(config: Config): Inventory {
  if (config.fleet.mode === 'inventory') return loadInventory(config.fleet.inventoryFile);
  const labInventory = path.join(config.dataDir, 'lab', 'inventory.json');
  if (!fs.existsSync(labInventory)) {
    throw new ConfigError('A standalone API needs an inventory:', [
      `INVENTORY_FILE: required unless the lab has written ${labInventory} (run \`npm start\` once, or set INVENTORY_FILE)`,
    ]);
  }
  return loadInventory(labInventory);
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError || err.name === 'PortInUseError' ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
