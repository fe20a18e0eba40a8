/**
 * Prometheus for the orchestrator's alerts, resolved like Redis (infra/redis-server.ts):
 *   1. PROMETHEUS_URL       must answer /-/ready, otherwise an error (no fallback); its own config stays
 *   2. `prometheus` on PATH (Debian: package prometheus) started under <dataDir>/prometheus on a free
 *      port of 127.0.0.1, with the lab's config: the clusters' replicas scraped, the repository's alert
 *      rules with `for:` scaled, alerts sent to the given Alertmanager
 *   3. otherwise an error naming the Debian package. There is no fake.
 */
import fs from 'node:fs';
import path from 'node:path';
import { labIntervals, ORCHESTRATOR_RULES_FILE, parsePromDuration, prometheusConfig, scaleRuleDurations, type ScrapedCluster } from './alerting-config';
import { findFreePort } from './free-port';
import { probeReady } from './http-ready';
import { findPrometheus, PROMETHEUS_INSTALL_HINT } from './prometheus-binaries';
import { livePidIn, spawnServer, waitUntilReady } from './server-process';

export interface ResolvePrometheusOptions {
  dataDir: string;
  /** PROMETHEUS_URL: use this one and start none. */
  prometheusUrl?: string;
  /** For a started one: what it scrapes and where it sends alerts. */
  scrape: { clusters: ScrapedCluster[]; alertmanagerUrl: string };
  timeScale: number;
  /** The rules files to load, scaled (default: the orchestrator's). */
  ruleFiles?: string[];
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  readyTimeoutMs?: number;
}

export interface ResolvedPrometheus {
  url: string;
  source: 'env' | 'started';
  stop(): Promise<void>;
}

const errMessage = (err: unknown) => (err instanceof Error ? err.message : String(err));

export async function resolvePrometheus(opts: ResolvePrometheusOptions): Promise<ResolvedPrometheus> {
  const log = opts.log ?? (() => undefined);
  if (opts.prometheusUrl) {
    try {
      await probeReady(opts.prometheusUrl);
    } catch (err) {
      throw new Error(`PROMETHEUS_URL=${opts.prometheusUrl} is not ready: ${errMessage(err)}`);
    }
    log(`using Prometheus at ${opts.prometheusUrl} (PROMETHEUS_URL)`);
    return { url: opts.prometheusUrl, source: 'env', stop: async () => undefined };
  }

  const binary = findPrometheus(opts.env ?? process.env);
  if (!binary) throw new Error(`No Prometheus: PROMETHEUS_URL is not set and there is no \`prometheus\` on PATH. ${PROMETHEUS_INSTALL_HINT}`);

  const dir = path.resolve(opts.dataDir, 'prometheus');
  fs.mkdirSync(path.join(dir, 'data'), { recursive: true, mode: 0o700 });
  fs.mkdirSync(path.join(dir, 'rules'), { recursive: true });
  const pidFile = path.join(dir, 'prometheus.pid');
  const running = livePidIn(pidFile);
  if (running !== undefined) throw new Error(`a Prometheus (pid ${running}) already runs on ${dir}: stop it (kill ${running}), or set PROMETHEUS_URL to it.`);

  // An alert must hold for at least one evaluation, whatever the scale.
  const evaluationMs = parsePromDuration(labIntervals(opts.timeScale).evaluation);
  const ruleFiles = (opts.ruleFiles ?? [ORCHESTRATOR_RULES_FILE]).map((source) => {
    const scaled = path.join(dir, 'rules', path.basename(source));
    fs.writeFileSync(scaled, scaleRuleDurations(fs.readFileSync(source, 'utf8'), opts.timeScale, evaluationMs));
    return scaled;
  });
  const configFile = path.join(dir, 'prometheus.yml');
  fs.writeFileSync(
    configFile,
    prometheusConfig({ clusters: opts.scrape.clusters, alertmanagerUrl: opts.scrape.alertmanagerUrl, ruleFiles, timeScale: opts.timeScale }),
  );

  const port = await findFreePort({ host: '127.0.0.1' });
  const url = `http://127.0.0.1:${port}`;
  const args = [
    `--config.file=${configFile}`,
    `--storage.tsdb.path=${path.join(dir, 'data')}`,
    '--storage.tsdb.retention.time=1d',
    `--web.listen-address=127.0.0.1:${port}`,
    `--web.external-url=${url}`,
    '--log.level=warn',
  ];
  log(`starting Prometheus: ${binary} ${args.join(' ')}`);
  const server = spawnServer(binary, args, { cwd: dir, killAfterMs: 10_000 });
  fs.writeFileSync(pidFile, String(server.pid));
  await waitUntilReady(server, `Prometheus (${binary})`, () => probeReady(url), opts.readyTimeoutMs ?? 30_000);
  log(`Prometheus ready on ${url} (pid ${server.pid}, config ${configFile})`);

  let stopped: Promise<void> | undefined;
  const stop = () =>
    (stopped ??= (async () => {
      await server.stop();
      fs.rmSync(pidFile, { force: true });
      log('Prometheus stopped');
    })());
  return { url, source: 'started', stop };
}
