/** JSON error bodies shared by the platform and admin APIs: {"error":{"code","message"}}. */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import type { ZodError } from 'zod';

export interface ApiErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function sendError(reply: FastifyReply, status: number, code: string, message: string, details?: unknown): FastifyReply {
  const body: ApiErrorBody = { error: { code, message, ...(details === undefined ? {} : { details }) } };
  return reply.code(status).send(body);
}

export function sendInvalid(reply: FastifyReply, err: ZodError): FastifyReply {
  const message = err.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ');
  return sendError(reply, 400, 'invalid_request', message, err.issues);
}

/** Turns fastify's own errors (bad JSON, unknown routes) into the same JSON shape. */
export function installErrorHandlers(app: FastifyInstance, logger: Logger): void {
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'not_found', `no route ${req.method} ${req.url.split('?')[0]}`));
  app.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) logger.error({ err, method: req.method, url: req.url }, 'lab API error');
    const code = status === 500 ? 'internal' : status === 415 ? 'unsupported_media_type' : 'invalid_request';
    return sendError(reply, status, code, err.message);
  });
}
