import pino, { type Logger } from 'pino';
import type { LogLevel, LogMetadata, Logger as TemporalLogger } from '@temporalio/common';

export interface ProcessLogger {
  logger: Logger;
  /** Sends every later line to `stream` as well (a Loki shipper), at the logger's level. */
  addDestination(stream: NodeJS.WritableStream): void;
}

/** The process's one pino logger: JSON lines on stdout, and wherever else they are added. */
export function createLogger(opts: { level?: string; name: string; destination?: pino.DestinationStream }): ProcessLogger {
  const level = (opts.level ?? 'info') as pino.Level;
  const streams = pino.multistream([{ level, stream: opts.destination ?? pino.destination(1) }]);
  return {
    logger: pino({ name: opts.name, level, base: { service: opts.name } }, streams),
    addDestination: (stream) => streams.add({ level, stream }),
  };
}

/** Temporal's own metadata keys, renamed to the project's snake_case log fields. */
const FIELD_NAMES: Record<string, string> = {
  workflowId: 'workflow_id',
  runId: 'run_id',
  workflowRunId: 'run_id',
  workflowType: 'workflow_type',
  activityType: 'activity_type',
  activityId: 'activity_id',
  taskQueue: 'task_queue',
  sdkComponent: 'sdk_component',
};

/**
 * Routes Temporal's runtime, workflow and activity logs through pino, so every
 * line of the worker process has one format and the same correlation fields.
 */
export function temporalLogger(logger: Logger): TemporalLogger {
  const emit = (level: LogLevel, message: string, meta?: LogMetadata) => {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(meta ?? {})) fields[FIELD_NAMES[k] ?? k] = v;
    const method = level.toLowerCase() as 'trace' | 'debug' | 'info' | 'warn' | 'error';
    logger[method](fields, message);
  };
  return {
    log: emit,
    trace: (m, meta) => emit('TRACE', m, meta),
    debug: (m, meta) => emit('DEBUG', m, meta),
    info: (m, meta) => emit('INFO', m, meta),
    warn: (m, meta) => emit('WARN', m, meta),
    error: (m, meta) => emit('ERROR', m, meta),
  };
}
