/**
 * The API on its own: `npm run api`. Needs TEMPORAL_ADDRESS and DATABASE_URL;
 * `npm start` runs it together with everything else.
 */
import { Pool } from 'pg';
import { ConfigError, loadConfig } from '../config';
import { assertPortFree } from '../scripts/free-port';
import { bootstrapProcess, connectTemporal } from '../workers/bootstrap';
import { buildApi } from './server';

async function main(): Promise<void> {
  const config = loadConfig();
  if (!config.temporal.address || !config.databaseUrl) {
    throw new ConfigError('A standalone API needs an existing server and database:', [
      ...(!config.temporal.address ? ['TEMPORAL_ADDRESS: required'] : []),
      ...(!config.databaseUrl ? ['DATABASE_URL: required'] : []),
    ]);
  }
  await assertPortFree(config.api.port, config.api.host, 'the HTTP API', 'Set API_PORT to use another port.');
  const { logger, tracing } = bootstrapProcess(config, 'gpuaas-runbooks-api');
  const temporal = await connectTemporal(config.temporal.address, config.temporal.namespace);
  const pool = new Pool({ connectionString: config.databaseUrl, max: 10 });
  const app = buildApi({ client: temporal.client, pool, taskQueue: config.temporal.taskQueue, logger });
  await app.listen({ host: config.api.host, port: config.api.port });
  const stop = async () => {
    await app.close();
    await pool.end();
    await temporal.close();
    await tracing.shutdown();
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err: Error) => {
  process.stderr.write(`${err instanceof ConfigError || err.name === 'PortInUseError' ? err.message : err.stack ?? err.message}\n`);
  process.exit(1);
});
