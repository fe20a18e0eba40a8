/**
 * Alertmanager for the orchestrator's alerts, resolved like Redis (infra/redis-server.ts):
 *   1. ALERTMANAGER_URL     must answer /-/ready, otherwise an error (no fallback); its own config stays
 *   2. `prometheus-alertmanager` (Debian) or `alertmanager` on PATH, started under <dataDir>/alertmanager
 *      on a free port of 127.0.0.1, with the lab's config: every alert to the on-call webhook
 *   3. otherwise an error naming the Debian package. There is no fake.
 *
 * The webhook's bearer token is in a file (0600) the config names, never in the config itself.
 * Gossip is off (--cluster.listen-address=): one lab instance, no port 9094 taken.
 */
import fs from 'node:fs';
import path from 'node:path';
import { alertmanagerConfig } from './alerting-config';
import { findFreePort } from './free-port';
import { probeReady } from './http-ready';
import { ALERTMANAGER_INSTALL_HINT, findAlertmanager } from './prometheus-binaries';
import { livePidIn, spawnServer, waitUntilReady } from './server-process';

export interface ResolveAlertmanagerOptions {
  /** A started server keeps its config, silences and log in <dataDir>/alertmanager. */
  dataDir: string;
  /** ALERTMANAGER_URL: use this one and start none. */
  alertmanagerUrl?: string;
  /** For a started one: where its single receiver posts, and the bearer token it sends. */
  webhook: { url: string; token: string };
  /** The lab's time scale: group_wait and friends scaled from production's. */
  timeScale: number;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface ResolvedAlertmanager {
  url: string;
  source: 'env' | 'started';
  stop(): Promise<void>;
}

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function resolveAlertmanager(opts: ResolveAlertmanagerOptions): Promise<ResolvedAlertmanager> {
  const log = opts.log ?? (() => undefined);
  if (opts.alertmanagerUrl) {
    try {
      await probeReady(opts.alertmanagerUrl);
    } catch (err) {
      throw new Error(`ALERTMANAGER_URL=${opts.alertmanagerUrl} is not ready: ${errMessage(err)}`);
    }
    log(`using Alertmanager at ${opts.alertmanagerUrl} (ALERTMANAGER_URL)`);
    return { url: opts.alertmanagerUrl, source: 'env', stop: async () => undefined };
  }

  const binary = findAlertmanager(opts.env ?? process.env);
  if (!binary)
    throw new Error(`No Alertmanager: ALERTMANAGER_URL is not set and there is no \`prometheus-alertmanager\` on PATH. ${ALERTMANAGER_INSTALL_HINT}`);

  const dir = path.resolve(opts.dataDir, 'alertmanager');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
  const pidFile = path.join(dir, 'alertmanager.pid');
  const running = livePidIn(pidFile);
  if (running !== undefined)
    throw new Error(`an Alertmanager (pid ${running}) already runs on ${dir}: stop it (kill ${running}), or set ALERTMANAGER_URL to it.`);

  const tokenFile = path.join(dir, 'webhook.token');
  fs.writeFileSync(tokenFile, opts.webhook.token, { mode: 0o600 });
  fs.chmodSync(tokenFile, 0o600);
  const configFile = path.join(dir, 'alertmanager.yml');
  fs.writeFileSync(configFile, alertmanagerConfig({ webhookUrl: opts.webhook.url, tokenFile, timeScale: opts.timeScale }));

  const port = await findFreePort({ host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.path=${path.join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    '--cluster.listen-address=',
    '--log.level=warn',
  ];
  log(`starting Alertmanager: ${binary} ${args.join(' ')}`);
  const server = spawnServer(binary, args, { cwd: dir, killAfterMs: 10_000 });
  fs.writeFileSync(pidFile, String(server.pid));
  await waitUntilReady(server, `Alertmanager (${binary})`, () => probeReady(url), opts.readyTimeoutMs ?? 30_000);
  log(`Alertmanager ready on ${url} (pid ${server.pid}, config ${configFile})`);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await server.stop();
      fs.rmSync(pidFile, { force: true });
      log('Alertmanager stopped');
    })());
  return { url, source: 'started', stop };
}
