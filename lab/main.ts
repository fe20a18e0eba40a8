/**
 * Runs the lab standalone: `tsx lab/main.ts`.
 * Env: LAB_DATA_DIR (default .data/lab), LAB_PLATFORM_PORT (default 8090),
 * LAB_EXTRA_GPU_NODES (default 0), LAB_TIME_SCALE (default 1), LAB_PLATFORM_TOKEN
 * (default: a random one, printed), LOG_LEVEL.
 */
import { resolve } from 'node:path';
import pino from 'pino';
import { startLab } from './index';

function intFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${raw}`);
  return n;
}

function scaleFromEnv(name: string): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return 1;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${name} must be a number > 0, got ${raw}`);
  return n;
}

async function main(): Promise<void> {
  const logger = pino({ level: process.env.LOG_LEVEL ?? 'info' });
  const lab = await startLab({
    dataDir: resolve(process.env.LAB_DATA_DIR ?? '.data/lab'),
    platformPort: intFromEnv('LAB_PLATFORM_PORT', 8090),
    extraGpuNodes: intFromEnv('LAB_EXTRA_GPU_NODES', 0),
    timeScale: scaleFromEnv('LAB_TIME_SCALE'),
    platformToken: process.env.LAB_PLATFORM_TOKEN || undefined,
    logger,
  });
  const lines = [
    `platform API : ${lab.platformUrl}/api/v1  (Authorization: Bearer ${lab.platformToken})`,
    `lab admin    : ${lab.platformUrl}/lab/v1  (same bearer token)`,
    `loki / tempo : ${lab.lokiUrl}/loki/api/v1/query_range, ${lab.tempoUrl}/api/traces/<trace id>  (no token)`,
    `inventory    : ${lab.inventoryPath}`,
    `  as Ansible : ${lab.ansibleInventoryPath}`,
    `client key   : ${lab.clientKeyPath}`,
    ...lab.inventory.hosts.map((h) => `  ${h.node_id.padEnd(14)} ${h.role.padEnd(17)} ssh -i ${lab.clientKeyPath} -p ${h.port} ${h.user}@${h.host}`),
    'Ctrl-C to stop.',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping lab');
    lab.stop().then(
      () => process.exit(0),
      (err) => {
        logger.error({ err }, 'lab stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((err) => {
  process.stderr.write(`lab failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
