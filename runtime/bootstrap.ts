import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import fs from 'node:fs';
import type { Config, TemporalSecurity } from '../config';
import { createLogger, temporalLogger } from './logger';
import { lokiLogShipper, type LogShipper } from './log-shipping';
import { installTracing, type Tracing } from './tracing';

export interface LogShipping {
  /** Pushes every later line to the Loki at `pushUrl` too (once; `npm start` calls it for the lab's). */
  start(pushUrl: string): void;
  /** Sends what is buffered; call last, after the logger's final lines. */
  close(): Promise<void>;
}

/** Process-wide set-up, once, before any Temporal connection exists: logging (shipped to LOKI_PUSH_URL when set) and tracing. */
export function bootstrapProcess(config: Config, serviceName: string): { logger: Logger; tracing: Tracing; logShipping: LogShipping } {
  const { logger, addDestination } = createLogger({ name: serviceName, level: config.logLevel });
  let shipper: LogShipper | undefined;
  const logShipping: LogShipping = {
    start(pushUrl) {
      if (shipper) return;
      shipper = lokiLogShipper({ pushUrl, service: serviceName, batchIntervalMs: config.logShipping.intervalMs });
      addDestination(shipper.stream);
      // The origin only: a URL's credentials never reach a log line.
      logger.info({ loki_push_url: new URL(pushUrl).origin }, 'shipping log lines to Loki');
    },
    close: async () => shipper?.close(),
  };
  if (config.logShipping.lokiPushUrl) logShipping.start(config.logShipping.lokiPushUrl);
  installTemporalRuntime(logger);
  const tracing = installTracing({ serviceName, otlpEndpoint: config.otel.endpoint });
  return { logger, tracing, logShipping };
}

/** Routes the Temporal runtime's own logs (Core at WARN and above) through pino. Once per process. */
export function installTemporalRuntime(logger: Logger): void {
  Runtime.install({ logger: temporalLogger(logger), telemetryOptions: { logging: { forward: {}, filter: 'WARN' } } });
}

/** The TLS and API-key options both Temporal connections (client and worker) take, from configuration. */
export function temporalConnectionSecurity(security: TemporalSecurity = {}): { tls?: TLSConfig | boolean; apiKey?: string } {
  const tls = security.tls;
  return {
    ...(tls
      ? {
          tls: {
            ...(tls.caFile ? { serverRootCACertificate: fs.readFileSync(tls.caFile) } : {}),
            ...(tls.certFile && tls.keyFile ? { clientCertPair: { crt: fs.readFileSync(tls.certFile), key: fs.readFileSync(tls.keyFile) } } : {}),
            ...(tls.serverName ? { serverNameOverride: tls.serverName } : {}),
          },
        }
      : {}),
    ...(security.apiKey ? { apiKey: security.apiKey.reveal() } : {}),
  };
}

export async function connectTemporal(address: string, namespace: string, security?: TemporalSecurity) {
  const secured = temporalConnectionSecurity(security);
  const connection = await Connection.connect({ address, ...secured });
  const client = new Client({ connection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
  const nativeConnection = await NativeConnection.connect({ address, ...secured });
  return {
    connection,
    client,
    nativeConnection,
    async close() {
      await connection.close();
      await nativeConnection.close();
    },
  };
}
