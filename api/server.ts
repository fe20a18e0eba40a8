import { randomUUID } from 'node:crypto';
import { context, trace } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import { ApiError, envelope } from './errors';
import { registerHealthRoutes } from './routes/health';
import { registerRunRoutes } from './routes/runs';

export interface ApiDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  logger: Logger;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,200}$/;

/**
 * The thin HTTP API: validation, then a Temporal start/query/signal/cancel/list.
 * Every response carries X-Correlation-Id; every error is one JSON envelope.
 */
export function buildApi(deps: ApiDeps): FastifyInstance {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ requestIdLogLabel: 'correlation_id' }),
    // The correlation id is the request id, so every request log line carries it.
    genReqId: (req) => {
      const given = req.headers['x-correlation-id'];
      return typeof given === 'string' && CORRELATION_ID.test(given) ? given : randomUUID();
    },
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-correlation-id', req.id);
    const given = req.headers['x-correlation-id'];
    if (given !== undefined && given !== req.id) {
      throw new ApiError(400, 'invalid_correlation_id', 'X-Correlation-Id must be 1-200 characters of A-Z a-z 0-9 . _ : -');
    }
  });
  // One span per request; the Temporal client interceptor hangs its spans under it.
  app.addHook('onRequest', (req, reply, done) => {
    const span = trace.getTracer('gpuaas-runbooks-api').startSpan(`${req.method} ${req.routeOptions.url ?? req.url}`, {
      attributes: { correlation_id: req.id, 'http.method': req.method },
    });
    reply.header('x-trace-id', span.spanContext().traceId);
    reply.raw.once('finish', () => span.end());
    context.with(trace.setSpan(context.active(), span), done);
  });

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      return reply.status(err.status).send(envelope(err.code, err.message, err.details, req.id));
    }
    const status = (err as { statusCode?: number }).statusCode;
    if (status && status >= 400 && status < 500) {
      // Fastify's own request errors: malformed JSON, wrong content type, body too large.
      return reply.status(status).send(envelope(codeOf(err as { code?: string }), (err as Error).message, {}, req.id));
    }
    req.log.error({ err }, 'request failed');
    return reply.status(500).send(envelope('internal', 'internal error; see the server log for this correlation id', {}, req.id));
  });
  app.setNotFoundHandler((req, reply) => {
    const hint = req.url.startsWith('/api/v1/runs/') ? ' (workflow ids contain "/": URL-encode it as %2F)' : '';
    return reply.status(404).send(envelope('not_found', `no route ${req.method} ${req.url}${hint}`, {}, req.id));
  });

  registerHealthRoutes(app, deps);
  registerRunRoutes(app, deps);
  return app;
}

function codeOf(err: { code?: string }): string {
  switch (err.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'unsupported_media_type';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'body_too_large';
    default:
      return 'invalid_request';
  }
}
