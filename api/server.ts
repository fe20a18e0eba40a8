import { randomUUID } from 'node:crypto';
import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { context, trace } from '@opentelemetry/api';
import type { Client } from '@temporalio/client';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Pool } from 'pg';
import type { Logger } from 'pino';
import type { Inventory } from '../domain/inventory';
import { installAuth, type Authenticators } from './auth/authenticate';
import { installAudit } from './audit/audit-hook';
import { AuditTrail } from './audit/audit-trail';
import { registerAuditRoutes } from './routes/audit';
import { ApiError, envelope, isDatabaseUnavailable } from './errors';
import { registerBudgetRoutes } from './routes/budgets';
import { registerDrillRoutes } from './routes/drills';
import { registerFleetRunRoutes } from './routes/fleet-runs';
import { registerHealthRoutes } from './routes/health';
import { installRequestMetrics } from './metrics/request-metrics';
import { registerMetricsRoutes } from './routes/metrics';
import { registerOpenApiRoutes } from './routes/openapi';
import { registerRunRoutes } from './routes/runs';
import { registerTokenRoutes } from './routes/tokens';
import { registerUiRoutes } from './routes/ui';
import { PendingCalls } from './temporal-call';

export interface ApiDeps {
  client: Client;
  pool: Pool;
  taskQueue: string;
  logger: Logger;
  /** The hosts the engine may act on: a trigger for any other node is refused before anything starts. */
  inventory: Inventory;
  /** ALERT_COOLDOWN: after a run closes, alerts that add nothing it did not see are answered with it this long. */
  alertCooldownMs: number;
  /** Distinct alert keys signalled to one run at most (default 20). */
  alertKeyCap?: number;
  /** How often a run the alert ledger believes open is confirmed with Temporal (default 5 s). */
  alertRecheckMs?: number;
  /** What one request may wait on Temporal before answering 503 (default 1.5 s). */
  temporalTimeoutMs?: number;
  /** Who may call: API tokens from the tokens file, and OIDC JWTs when configured. */
  auth: Authenticators;
  /** Where the inbox links runs (default: the dev server's Web UI on localhost:8233). */
  temporalUiUrl?: string;
}

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,200}$/;
/** Longest path parameter (workflow ids are up to 1000 characters, URL-encoded a little longer). */
const MAX_PARAM_LENGTH = 1024;
/** Every request body is a small JSON object; a megabyte of JSON is an attack, not an alert. */
const BODY_LIMIT_BYTES = 64 * 1024;

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
    bodyLimit: BODY_LIMIT_BYTES,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // Errors fastify raises before routing (a malformed %-encoding, an over-long path
    // parameter): the same envelope as every other error.
    frameworkErrors: (err, req, reply) => {
      const status = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 414 : err.code === 'FST_ERR_BAD_URL' ? 400 : 500;
      const code = err.code === 'FST_ERR_MAX_PARAM_LENGTH' ? 'uri_too_long' : err.code === 'FST_ERR_BAD_URL' ? 'bad_url' : 'internal';
      const message =
        code === 'uri_too_long'
          ? `a path parameter is longer than ${MAX_PARAM_LENGTH} characters`
          : code === 'bad_url'
            ? 'the URL has a malformed %-encoding'
            : 'internal error; see the server log for this correlation id';
      if (status === 500) req.log.error({ err }, 'request failed');
      // The reply of a request that matched no route is typed for no status; it is a plain reply.
      const plain = reply as unknown as FastifyReply;
      void plain
        .header('x-correlation-id', req.id)
        .status(status)
        .send(envelope(code, message, {}, req.id));
    },
    // Requests Node's HTTP parser refuses never reach fastify: control characters in a
    // header, a malformed request line, headers too large.
    clientErrorHandler: (err, socket) => answerClientError(err, socket),
  });

  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-correlation-id', req.id);
    const given = req.headers['x-correlation-id'];
    if (given !== undefined && given !== req.id) {
      throw new ApiError(400, 'invalid_input', 'invalid X-Correlation-Id header', {
        fields: [{ path: 'headers.x-correlation-id', message: 'must be 1-200 characters of A-Z a-z 0-9 . _ : -' }],
      });
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

  installAuth(app, deps.auth);
  // Before every route: the document is made of the routes registered after it.
  registerOpenApiRoutes(app);
  const audit = new AuditTrail(deps.pool);
  installAudit(app, audit);
  const metricsRegistry = installRequestMetrics(app);

  app.setErrorHandler((err, req, reply) => {
    if (err instanceof ApiError) {
      if (err.status >= 500) req.log.warn({ code: err.code, details: err.details }, err.message);
      return reply
        .status(err.status)
        .headers(err.headers)
        .send(envelope(err.code, err.message, err.details, req.id));
    }
    if (isDatabaseUnavailable(err)) {
      req.log.warn({ err }, 'database unavailable');
      return reply
        .status(503)
        .header('retry-after', '1')
        .send(envelope('database_unavailable', `PostgreSQL is unreachable: ${(err as Error).message.split('\n')[0]}`, {}, req.id));
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

  const pending = new PendingCalls();
  // Close only after the Temporal calls requests gave up on have ended, so the caller can close the connection.
  app.addHook('onClose', () => pending.settled());
  registerHealthRoutes(app, deps, pending);
  registerRunRoutes(app, deps, pending);
  registerBudgetRoutes(app, deps, pending);
  registerDrillRoutes(app, deps, pending);
  registerFleetRunRoutes(app, deps, pending);
  registerTokenRoutes(app, deps);
  registerUiRoutes(app, deps);
  registerAuditRoutes(app, audit);
  registerMetricsRoutes(app, deps, pending, metricsRegistry);
  return app;
}

/**
 * Answers a request the HTTP parser refused with the envelope, then closes the connection
 * (after a parse error the rest of the stream cannot be trusted). There is no request, so
 * the correlation id is a fresh one.
 */
function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, code, message] =
    err.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'headers_too_large', 'request headers are too large']
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'request_timeout', 'the request was not received in time']
        : err.code === 'HPE_INVALID_HEADER_TOKEN' || err.code === 'HPE_INVALID_HEADER_VALUE' || err.code === 'HPE_LF_EXPECTED' || err.code === 'HPE_CR_EXPECTED'
          ? [400, 'invalid_input', 'a request header holds characters HTTP does not allow (control characters)']
          : [400, 'invalid_request', 'malformed HTTP request'];
  const correlationId = randomUUID();
  const body = JSON.stringify(envelope(code, message, { parser: err.code ?? null }, correlationId));
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(body)}\r\n` +
        `x-correlation-id: ${correlationId}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
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
