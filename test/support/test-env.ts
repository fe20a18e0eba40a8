/** Environment variables through which globalSetup hands the running stack to test files. */
export const TEST_ENV_KEYS = {
  temporalAddress: 'GPUAAS_TEST_TEMPORAL_ADDRESS',
  databaseUrl: 'GPUAAS_TEST_DATABASE_URL',
  inventoryFile: 'GPUAAS_TEST_INVENTORY_FILE',
  clientKeyFile: 'GPUAAS_TEST_CLIENT_KEY_FILE',
  platformUrl: 'GPUAAS_TEST_PLATFORM_URL',
  platformToken: 'GPUAAS_TEST_PLATFORM_TOKEN',
  temporalUiUrl: 'GPUAAS_TEST_TEMPORAL_UI_URL',
  redisUrl: 'GPUAAS_TEST_REDIS_URL',
  orchestratorMysqlUrl: 'GPUAAS_TEST_ORCHESTRATOR_MYSQL_URL',
  orchestratorPgUrl: 'GPUAAS_TEST_ORCHESTRATOR_PG_URL',
} as const;

export function testEnv(key: keyof typeof TEST_ENV_KEYS): string {
  const value = process.env[TEST_ENV_KEYS[key]];
  if (!value) throw new Error(`${TEST_ENV_KEYS[key]} is not set: run the tests through jest.config.js (globalSetup)`);
  return value;
}
