import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry';
import { NativeConnection, Runtime } from '@temporalio/worker';
import type { Logger } from 'pino';
import type { Config } from '../config';
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

export async function connectTemporal(address: string, namespace: string) {
  const connection = await Connection.connect({ address });
  const client = new Client({ connection, namespace, interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] } });
  const nativeConnection = await NativeConnection.connect({ address });
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
