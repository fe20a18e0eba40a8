/**
 * The engine's own log lines, pushed to a Loki as well as written to stdout, so
 * incident triage finds what the engine did for a correlation_id beside what the
 * platform's services did. Off unless LOKI_PUSH_URL is set (a fleet whose log
 * agent already ships stdout needs nothing from here); `npm start` turns it on
 * for the lab. Lines are batched, at most `maxBuffered` held while Loki is away
 * (the oldest go first), and flushed on close.
 */
import { once } from 'node:events';
import os from 'node:os';
import { pinoLoki } from 'pino-loki';
import { ENGINE_LOG_JOB } from '../domain/incident-evidence';

export interface LokiShippingOptions {
  /** Loki's base URL, credentials allowed (sent as basic auth); lines go to POST <url>/loki/api/v1/push. */
  pushUrl: string;
  /** The process's service name (gpuaas-runbooks-worker, gpuaas-runbooks-api, ...): the `service` label. */
  service: string;
  batchIntervalMs: number;
  maxBuffered?: number;
}

export interface LogShipper {
  /** A pino destination: every line the logger writes goes to Loki too. */
  stream: NodeJS.WritableStream;
  /** Sends what is buffered and stops. */
  close(): Promise<void>;
}

/**
 * Stream labels name the process, never a host role: a line's host_role and
 * host_name are fields of the line, naming the host the engine acted on, so a
 * triage reads them as the engine's account of that host.
 */
export function lokiLogShipper(opts: LokiShippingOptions): LogShipper {
  // fetch refuses a URL with credentials in it: they travel as basic auth instead.
  const url = new URL(opts.pushUrl);
  const basicAuth = url.username ? { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) } : undefined;
  url.username = '';
  url.password = '';
  const stream = pinoLoki({
    host: url.toString(),
    basicAuth,
    labels: { job: ENGINE_LOG_JOB, service: opts.service, instance: os.hostname() },
    batching: { interval: opts.batchIntervalMs / 1000, maxBufferSize: opts.maxBuffered ?? 10_000 },
    timeout: 10_000,
    structuredMetaKey: false,
  });
  return {
    stream,
    async close() {
      if (stream.closed) return;
      const closed = once(stream, 'close');
      stream.end();
      await closed;
    },
  };
}
