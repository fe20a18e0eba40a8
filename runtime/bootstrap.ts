import { Client, Connection, type TLSConfig } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import fs from 'node:fs';
import type { Config, TemporalSecurity } from '../config';
import { createLogger, temporalLogger } from './logger';
import { installTracing, type Tracing } from './tracing';

/** Process-wide set-up, once, before any Temporal connection exists: logging and tracing. */
export function bootstrapProcess(config: Config, serviceName: string): { logger: Logger; tracing: Tracing } {
  const logger = createLogger({ name: serviceName, level: config.logLevel });
  installTemporalRuntime(logger);
  const tracing = installTracing({ serviceName, otlpEndpoint: config.otel.endpoint });
  return { logger, tracing };
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
