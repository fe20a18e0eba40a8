import { randomBytes } from 'node:crypto';
/**
 * The lab: a simulated GPU cloud reached only through real protocols. Each host
 * is an SSH server on 127.0.0.1; the platform API and lab admin API are one HTTP
 * server. The engine talks to it exactly as to a real fleet.
 */
import fastify, { type FastifyInstance } from 'fastify';
import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { Inventory } from '../domain/inventory';
import type { OrchestratorCluster } from '../domain/orchestrator';
import { registerAdminApi } from './admin-api';
import { writeAnsibleInventory } from './ansible-inventory';
import { AppRuntime, appPrograms, registerAppRuntimeApi } from './app-runtime';
import { chainExtensions } from './command-extension';
import { DURATIONS } from './command-types';
import { SimHostState } from './gpu-host-state';
import { HostRuntime } from './host-runtime';
import { installErrorHandlers } from './http-errors';
import { buildInventory, labHostSpecs, previousPorts, writeInventory } from './inventory';
import { loadLabKeys } from './keys';
import { OnCallPager, ON_CALL_WEBHOOK_PATH, registerOnCallRoutes } from './on-call';
import { OrchestratorLab, registerOrchestratorAdmin, type OrchestratorOptions } from './orchestrator';
import { LabObservability, registerObservabilityApi } from './observability';
import { registerPlatformApi } from './platform-api';
import { SshHost } from './ssh-hosts';
import { LabWorld, type LabHost } from './world';

export interface LabOptions {
  dataDir: string;
  /** Address every lab server binds to (default 127.0.0.1). */
  bindHost?: string;
  /** Platform API port; 0 = random (default). */
  platformPort?: number;
  /** worker_compute nodes beyond dev-gpu-1 (default 0). */
  extraGpuNodes?: number;
  /** GPU nodes per rack label (default 10). */
  rackSize?: number;
  /** Allocations finish this long after a cordon (default 300). */
  drainDelayMs?: number;
  /**
   * Multiplies every simulated duration: commands (a level-3 diag is 900 s at 1)
   * and reboots (180 s at 1). Must be > 0; default 1, real time.
   */
  timeScale?: number;
  /** A rebooting host is down this long; overrides 180 s × timeScale when given. */
  rebootDelayMs?: number;
  /** Bearer token of the platform API and the lab's own /lab/v1 API (default: a random one per start). */
  platformToken?: string;
  /** The GPU orchestrator on real backends (Redis, MySQL/MariaDB or PostgreSQL); left out when not given. */
  orchestrator?: OrchestratorOptions;
  logger?: Logger;
}

export interface RunningLab {
  inventory: Inventory;
  inventoryPath: string;
  /** The same inventory in seed 002's Ansible layout: <dataDir>/ansible/inventory/environments/lab/hosts.ini. */
  ansibleInventoryPath: string;
  clientKeyPath: string;
  /** http://127.0.0.1:PORT */
  platformUrl: string;
  /** The lab's Loki (GET /loki/api/v1/query_range) and Tempo (GET /api/traces/<id>): the same server, no token. */
  lokiUrl: string;
  tempoUrl: string;
  platformToken: string;
  /**
   * Present when the lab runs the orchestrator: what the engine needs to reach it (cluster
   * `lab`): each replica host's API base URL (stable across restarts), Redis, SQL, the lock's name.
   */
  orchestrator?: { cluster: OrchestratorCluster };
  /** The on-call pager's webhook (Alertmanager's receiver in the lab); it takes the lab token. */
  onCallWebhookUrl: string;
  stop(): Promise<void>;
}

/** The name the lab's orchestrator goes by in the engine's configuration. */
export const LAB_CLUSTER = 'lab';

/** The address clients use to reach a server bound to `bindHost`. */
function reachableAddress(bindHost: string): string {
  return bindHost === '0.0.0.0' || bindHost === '::' ? '127.0.0.1' : bindHost;
}

function buildHttp(
  world: LabWorld,
  apps: AppRuntime,
  orchestrator: OrchestratorLab | undefined,
  observability: LabObservability,
  pager: OnCallPager,
  token: string,
  logger: Logger,
): FastifyInstance {
  // Fastify's own request logging stays off; errors are logged by the error handler.
  const app = fastify({ logger: false });
  installErrorHandlers(app, logger);
  const apiLogs = observability.writer('gpuaas-api', observability.hostsByRole.platform_control);
  registerPlatformApi(app, { platform: world.platform, records: world.records, idempotency: world.idempotency, token, logs: apiLogs });
  registerAdminApi(app, world, token);
  registerAppRuntimeApi(app, { runtime: apps, platform: world.platform, records: world.records, idempotency: world.idempotency });
  if (orchestrator) registerOrchestratorAdmin(app, orchestrator);
  registerObservabilityApi(app, observability);
  registerOnCallRoutes(app, pager);
  return app;
}

export async function startLab(opts: LabOptions): Promise<RunningLab> {
  const logger = opts.logger ?? pino({ level: 'silent' });
  const bindHost = opts.bindHost ?? '127.0.0.1';
  const address = reachableAddress(bindHost);
  const token = opts.platformToken ?? randomBytes(24).toString('base64url');
  const timeScale = opts.timeScale ?? 1;
  if (!(timeScale > 0) || !Number.isFinite(timeScale)) throw new RangeError(`timeScale must be a finite number > 0, got ${timeScale}`);
  const specs = labHostSpecs(opts.extraGpuNodes ?? 0, opts.rackSize);
  const keys = loadLabKeys(
    opts.dataDir,
    specs.map((s) => s.node_id),
  );
  const inventoryPath = join(opts.dataDir, 'inventory.json');
  const ports = previousPorts(inventoryPath);

  const now = new Date();
  const hosts: LabHost[] = specs.map((spec) => ({ spec, state: new SimHostState(spec.node_id, spec.hostname, spec.role, now) }));
  const world = new LabWorld(hosts, opts.drainDelayMs ?? 300);
  // First part: cleared before the others reset, so the lines they write when they start again are kept.
  const observability = new LabObservability({ hosts: specs });
  world.parts.push(observability);
  const apps = new AppRuntime({ hosts, timeScale, observability });
  observability.startProcess = (nodeId, user, args) => apps.startOtherProcess(nodeId, user, args);
  world.parts.push(apps);
  // After the app runtime: its replicas are units on the app runtime's hosts.
  const orchestrator = opts.orchestrator
    ? new OrchestratorLab(apps, { ...opts.orchestrator, timeScale, bindHost, records: world.records, observability })
    : undefined;
  if (orchestrator) world.parts.push(orchestrator);
  const pager = new OnCallPager();
  world.parts.push(pager);
  for (const h of hosts) {
    const { node_id, hostname } = h.spec;
    const hostKey = keys.hosts.get(node_id);
    if (!hostKey) throw new Error(`no host key for ${node_id}`);
    const hostLogger = logger.child({ component: 'lab-host', node_id, hostname });
    const runtime = new HostRuntime({
      state: h.state,
      timeScale,
      records: world.records,
      platform: () => world.allocationFacts(node_id),
      gpuProcesses: orchestrator ? () => orchestrator.gpuProcesses(node_id) : undefined,
      reboot: () => h.ssh?.rebootSoon(),
      commands: orchestrator ? chainExtensions(orchestrator.programs(node_id), appPrograms(apps, node_id)) : appPrograms(apps, node_id),
      logger: hostLogger,
    });
    h.runtime = runtime;
    h.ssh = new SshHost({
      state: h.state,
      runtime,
      hostKey,
      clientPublicKey: keys.client.publicKey,
      bindHost,
      rebootDelayMs: opts.rebootDelayMs ?? DURATIONS.reboot * timeScale,
      rebootGraceMs: DURATIONS.rebootGrace * timeScale,
      logger: hostLogger,
      hooks: {
        // A reboot kills whatever still runs on the node: workloads and our own processes.
        wentDown: () => {
          if (world.platform.has(node_id)) world.platform.evict(node_id);
          runtime.killAll();
          apps.hostWentDown(node_id);
          orchestrator?.hostWentDown(node_id);
        },
      },
    });
  }

  const sshHosts = hosts.map((h) => h.ssh).filter((s): s is SshHost => s !== undefined);
  const app = buildHttp(world, apps, orchestrator, observability, pager, token, logger.child({ component: 'lab-http' }));
  const stop = async () => {
    await world.stop();
    await Promise.all(sshHosts.map((s) => s.close()));
    await app.close();
  };

  try {
    for (const s of sshHosts) await s.listen(ports.get(s.nodeId));
    await app.listen({ host: bindHost, port: opts.platformPort ?? 0 });
    await orchestrator?.start();
  } catch (err) {
    await stop().catch(() => undefined);
    throw err;
  }
  const httpAddr = app.server.address();
  const platformPort = typeof httpAddr === 'object' && httpAddr ? httpAddr.port : (opts.platformPort ?? 0);

  const inventory = buildInventory(
    specs,
    new Map(hosts.map((h) => [h.spec.node_id, { host: address, port: h.ssh?.port ?? 0, hostKey: keys.hosts.get(h.spec.node_id)?.publicKey ?? '' }])),
  );
  writeInventory(inventoryPath, inventory);
  const ansibleInventoryPath = writeAnsibleInventory(join(opts.dataDir, 'ansible', 'inventory'), inventory);

  const platformUrl = `http://${address}:${platformPort}`;
  logger.info({ platformUrl, inventoryPath, hosts: inventory.hosts.map((h) => `${h.node_id}@${h.host}:${h.port}`) }, 'lab started');
  const orchestratorInfo = orchestrator && {
    cluster: {
      name: LAB_CLUSTER,
      replicas: orchestrator.replicaNodes.map((node_id) => ({ node_id, api_url: orchestrator.url(node_id) ?? '' })),
      redis_url: opts.orchestrator!.backends.redisUrl,
      db_url: opts.orchestrator!.backends.db.url,
      lock_name: orchestrator.lockName,
    },
  };
  return {
    inventory,
    inventoryPath,
    ansibleInventoryPath,
    clientKeyPath: keys.client.privateKeyPath,
    platformUrl,
    lokiUrl: platformUrl,
    tempoUrl: platformUrl,
    platformToken: token,
    onCallWebhookUrl: `${platformUrl}${ON_CALL_WEBHOOK_PATH}`,
    orchestrator: orchestratorInfo,
    stop,
  };
}
