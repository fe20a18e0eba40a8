/**
 * `npm start`: the whole engine on one machine. Temporal dev server (unless
 * TEMPORAL_ADDRESS is set), PostgreSQL (embedded unless DATABASE_URL is set) with
 * migrations, the orchestrator's Redis (REDIS_URL, else redis-server from PATH)
 * and SQL database (ORCHESTRATOR_DB_URL, else MariaDB), the lab (unless
 * INVENTORY_FILE points at a real fleet), a worker and the API. Prints where
 * everything is; Ctrl-C stops it all.
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig, type Config } from '../config';
import { buildApi } from '../api/server';
import { authenticatorsFor } from '../api/auth/authenticate';
import { TokenFile } from '../api/auth/token-file';
import { bootstrapProcess, connectTemporal } from '../runtime/bootstrap';
import { fleetWiring } from '../workers/fleet';
import { composeActivities } from '../workers/compose';
import { createRunbookWorker } from '../workers/worker';
import { assertPortFree, findFreePort, PortInUseError } from '../infra/free-port';
import { redactUrl } from '../infra/redact-url';
import { startStack } from './stack';

/** How `npm start` says where an orchestrator database came from. */
const ORCHESTRATOR_DB_SOURCES = {
  env: 'ORCHESTRATOR_DB_URL',
  local: "this machine's MySQL/MariaDB, a database of this run's own",
  started: 'a MariaDB started under DATA_DIR/mariadb',
  engine: "beside the engine's tables",
} as const;

/** Lab platform API port when free; the lab picks another otherwise. */
const LAB_PLATFORM_PORT = 8090;

async function main(): Promise<void> {
  const config = loadConfig();
  const say = (line: string) => process.stderr.write(`[start] ${line}\n`);
  // Fail fast on our own port before starting anything heavy.
  await assertPortFree(config.api.port, config.api.host, 'the HTTP API', 'Set API_PORT to use another port.');
  const { logger, tracing, logShipping } = bootstrapProcess(config, 'gpuaas-runbooks');

  const stack = await startStack({
    dataDir: config.dataDir,
    log: say,
    temporalAddress: config.temporal.address,
    temporalNamespace: config.temporal.namespace,
    temporalPort: config.temporal.port,
    temporalUiPort: config.temporal.uiPort,
    databaseUrl: config.databaseUrl,
    redisUrl: config.redisUrl,
    orchestratorDbUrl: config.orchestratorDbUrl,
    prometheusUrl: config.alerting.prometheusUrl,
    alertmanagerUrl: config.alerting.alertmanagerUrl,
    lab:
      config.fleet.mode === 'lab'
        ? {
            platformPort: await findFreePort({ preferred: LAB_PLATFORM_PORT }),
            timeScale: config.lab.timeScale,
            extraGpuNodes: config.lab.extraGpuNodes,
            orchestrator: true,
          }
        : false,
  });
  const stops: (() => Promise<unknown>)[] = [() => stack.stop()];
  // The engine in the lab logs where the lab's services do, so a triage finds its lines too; flushed before the lab stops.
  if (stack.lab && !config.logShipping.lokiPushUrl) logShipping.start(stack.lab.lokiUrl);
  stops.push(() => logShipping.close());
  const stopAll = async () => {
    for (const stop of stops.reverse()) await stop().catch((e: Error) => say(`while stopping: ${e.message}`));
  };
  try {
    const temporal = await connectTemporal(stack.temporalAddress, config.temporal.namespace, config.temporal.address ? config.temporal.security : undefined);
    stops.push(() => temporal.close());
    const fleet = fleetWiring(
      config,
      stack.lab && {
        ...stack.lab,
        alerting: stack.alerting && { prometheusUrl: stack.alerting.prometheus.url, alertmanagerUrl: stack.alerting.alertmanager.url },
      },
    );
    say('bundling workflow code...');
    const worker = await createRunbookWorker({
      connection: temporal.nativeConnection,
      namespace: config.temporal.namespace,
      taskQueue: config.temporal.taskQueue,
      tracing,
      shutdownGraceMs: config.worker.shutdownGraceMs,
      maxCachedWorkflows: config.worker.maxCachedWorkflows,
      activities: composeActivities({
        ...fleet,
        pool: stack.db.pool,
        logger,
        ssh: config.ssh,
        temporal: temporal.client,
        budgets: config.budgets,
        ledgerTaskQueue: config.temporal.ledgerTaskQueue,
        faultInjectionUrl: config.drills.faultUrl ?? stack.lab?.platformUrl,
        faultInjectionToken: config.drills.faultUrl ? config.drills.faultToken?.reveal() : stack.lab?.platformToken,
        // A signal's actor is checked against the same tokens the API authenticates with.
        approvals: { ...config.approvals, principals: new TokenFile(config.auth.tokensFile) },
      }),
    });
    const workerDone = worker.run();
    stops.push(async () => {
      // The SDK starts draining on SIGINT/SIGTERM by itself; only ask when it has not.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerDone;
    });
    const auth = authenticatorsFor(config.auth);
    // Nothing runs open: the lab gets an admin token; a real fleet brings its own tokens or OIDC.
    const adminTokenFile = config.fleet.mode === 'lab' ? ensureLabAdminToken(auth.tokens, config.dataDir) : undefined;
    if (stack.lab) fs.writeFileSync(path.join(config.dataDir, 'lab-token'), `${stack.lab.platformToken}\n`, { mode: 0o600 });
    if (!adminTokenFile && auth.tokens.list().length === 0 && !auth.oidc) {
      logger.warn(
        { tokens_file: config.auth.tokensFile },
        'no API token and no OIDC: every request will be refused; create a token with `npm run tokens -- create`',
      );
    }
    const api = buildApi({
      client: temporal.client,
      pool: stack.db.pool,
      taskQueue: config.temporal.taskQueue,
      logger,
      inventory: fleet.inventory,
      alertCooldownMs: config.alerts.cooldownMs,
      auth,
      temporalUiUrl: config.temporal.address ? config.temporal.uiUrl : (stack.temporalUiUrl ?? config.temporal.uiUrl),
    });
    await api.listen({ host: config.api.host, port: config.api.port });
    stops.push(() => api.close());
    printWhereThingsAre(config, stack, `http://${config.api.host}:${config.api.port}`, adminTokenFile);
  } catch (err) {
    await stopAll();
    throw err;
  }

  let stopping = false;
  const onSignal = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: stopping...`);
    await stopAll();
    await tracing.shutdown();
    say('stopped');
    process.exit(0);
  };
  process.on('SIGINT', () => void onSignal('SIGINT'));
  process.on('SIGTERM', () => void onSignal('SIGTERM'));
}

/**
 * The lab's admin token, kept in plain text beside the data (mode 0600) so the
 * lab's user can use it; made again when the file is gone or the token was revoked.
 */
function ensureLabAdminToken(tokens: TokenFile, dataDir: string): string {
  const file = path.join(dataDir, 'lab-admin-token');
  const kept = fs.existsSync(file) ? fs.readFileSync(file, 'utf8').trim() : '';
  if (kept && tokens.authenticate(kept)?.roles.includes('admin')) return file;
  const { token } = tokens.create('lab-admin', ['admin'], 'made by npm start for the lab');
  fs.mkdirSync(dataDir, { recursive: true });
  fs.writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return file;
}

function printWhereThingsAre(config: Config, stack: Awaited<ReturnType<typeof startStack>>, apiUrl: string, adminTokenFile?: string): void {
  const auth = adminTokenFile ? ` -H "authorization: Bearer $(cat ${path.relative(process.cwd(), adminTokenFile)})"` : '';
  const lines = [
    '',
    'gpuaas-runbooks is up',
    `  API              ${apiUrl}   (GET /healthz; every other route needs a bearer token)`,
    ...(adminTokenFile
      ? [`  Admin token      ${path.relative(process.cwd(), adminTokenFile)}   (lab only; tokens file ${path.relative(process.cwd(), config.auth.tokensFile)})`]
      : []),
    `  Temporal         ${stack.temporalAddress}   namespace ${config.temporal.namespace}, task queue ${config.temporal.taskQueue}`,
    ...(stack.temporalUiUrl ? [`  Temporal Web UI  ${stack.temporalUiUrl}`] : []),
    `  PostgreSQL       ${stack.db.url.replace(/:[^:@/]*@/, ':***@')}`,
    `  Redis            ${redactUrl(stack.redis.url)}   (${stack.redis.source === 'env' ? 'REDIS_URL' : `started, AOF under ${path.relative(process.cwd(), path.join(config.dataDir, 'redis'))}`})`,
    ...(stack.orchestratorMysql
      ? [`  Orchestrator DB  ${redactUrl(stack.orchestratorMysql.url)}   (MySQL named lock; ${ORCHESTRATOR_DB_SOURCES[stack.orchestratorMysql.source]})`]
      : []),
    `  Orchestrator PG  ${redactUrl(stack.orchestratorPg.url)}   (PostgreSQL advisory lock; ${ORCHESTRATOR_DB_SOURCES[stack.orchestratorPg.source]})`,
  ];
  if (stack.lab) {
    lines.push(
      `  Lab platform API ${stack.lab.platformUrl}   (fault injection under /lab/v1; bearer token in ${path.relative(process.cwd(), path.join(config.dataDir, 'lab-token'))})`,
      `  Lab inventory    ${path.relative(process.cwd(), stack.lab.inventoryPath)}   (as Ansible: ${path.relative(process.cwd(), stack.lab.ansibleInventoryPath)})`,
      ...(stack.lab.orchestrator?.cluster.replicas ?? []).map(
        ({ node_id, api_url }) => `  Orchestrator     ${api_url}   (replica on ${node_id}; GET /status/leader, /pools, /metrics)`,
      ),
      ...(stack.alerting
        ? [
            `  Prometheus       ${stack.alerting.prometheus.url}   (${stack.alerting.prometheus.source === 'env' ? 'PROMETHEUS_URL' : 'started: scrapes the replicas, monitoring/alerts rules'})`,
            `  Alertmanager     ${stack.alerting.alertmanager.url}   (${stack.alerting.alertmanager.source === 'env' ? 'ALERTMANAGER_URL' : 'started: pages the lab on-call at /lab/v1/on-call/notifications'})`,
          ]
        : []),
      '',
      'Try it:',
      `  curl -s -XPOST ${stack.lab.platformUrl}/lab/v1/hosts/dev-gpu-1/faults/xid -H "authorization: Bearer $(cat ${path.relative(process.cwd(), path.join(config.dataDir, 'lab-token'))})" -H 'content-type: application/json' -d '{"gpu_index":3,"xid":48}'`,
      `  curl -s -XPOST ${apiUrl}/api/v1/runbooks/gpu-fault-remediation/runs${auth} -H 'content-type: application/json' -d '{"node_id":"dev-gpu-1","xid":48,"gpu_index":3}'`,
      `  curl -s ${apiUrl}/api/v1/runs/gpu-fault%2Fdev-gpu-1${auth}`,
    );
  }
  lines.push('', 'Ctrl-C stops everything.', '');
  process.stdout.write(lines.join('\n'));
}

main().catch((err: Error) => {
  const known = err instanceof ConfigError || err instanceof PortInUseError;
  process.stderr.write(`\nnpm start failed: ${known ? err.message : (err.stack ?? err.message)}\n`);
  process.exit(1);
});
