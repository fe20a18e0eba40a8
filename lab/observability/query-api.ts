/**
 * The lab's Loki and Tempo read APIs on its HTTP server, wire-compatible with the
 * real ones so the engine's readers work unchanged against a fleet:
 * GET /loki/api/v1/query_range (the LogQL subset of logql.ts) and
 * GET /api/traces/<traceID>. Errors are plain text with the status, as Loki and
 * Tempo write them. Reads need no token, as an unauthenticated Loki's.
 */
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { LabLogStore } from './log-store';
import { toNs } from './log-store';
import { LogQlSyntaxError, parseLogQuery } from './logql';
import { runLogQuery, type Direction } from './run-log-query';
import type { LabTraceStore } from './trace-store';

/** Loki's default max_entries_limit_per_query. */
export const MAX_ENTRIES_PER_QUERY = 5000;
const DEFAULT_LIMIT = 100;
const DEFAULT_RANGE_NS = 3_600_000_000_000n;

class BadRequest extends Error {}

/** Loki's time parameters: integer nanoseconds, fractional seconds, or RFC 3339. */
export function parseLokiTime(raw: string, name: string): bigint {
  if (/^\d+$/.test(raw)) return BigInt(raw);
  if (/^\d+\.\d+$/.test(raw)) {
    const [s, frac] = raw.split('.') as [string, string];
    return BigInt(s) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
  }
  const ms = Date.parse(raw);
  if (Number.isNaN(ms) || !/^\d{4}-\d{2}-\d{2}T/.test(raw))
    throw new BadRequest(`invalid ${name} time ${JSON.stringify(raw)}: expected nanoseconds, seconds or RFC 3339`);
  return toNs(new Date(ms));
}

function text(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(`${body}\n`);
}

export interface QueryApiDeps {
  logs: LabLogStore;
  traces: LabTraceStore;
}

export function registerQueryApi(app: FastifyInstance, deps: QueryApiDeps): void {
  app.get('/loki/api/v1/query_range', async (req, reply) => {
    const q = (req.query ?? {}) as Record<string, string | string[] | undefined>;
    const one = (name: string): string | undefined => {
      const v = q[name];
      return Array.isArray(v) ? v[v.length - 1] : v;
    };
    try {
      const query = one('query');
      if (!query) throw new BadRequest('query parameter is required');
      const endNs = one('end') ? parseLokiTime(one('end')!, 'end') : toNs(new Date());
      const startNs = one('start') ? parseLokiTime(one('start')!, 'start') : endNs - DEFAULT_RANGE_NS;
      if (endNs < startNs) throw new BadRequest('end timestamp must not be before or equal to start time');
      const limitRaw = one('limit');
      const limit = limitRaw === undefined ? DEFAULT_LIMIT : Number(limitRaw);
      if (!Number.isInteger(limit) || limit <= 0) throw new BadRequest(`limit must be a positive integer, got ${JSON.stringify(limitRaw)}`);
      if (limit > MAX_ENTRIES_PER_QUERY)
        throw new BadRequest(`max entries limit per query exceeded, limit > max_entries_limit (${limit} > ${MAX_ENTRIES_PER_QUERY})`);
      const dirRaw = (one('direction') ?? 'backward').toLowerCase();
      if (dirRaw !== 'forward' && dirRaw !== 'backward') throw new BadRequest(`invalid direction ${JSON.stringify(one('direction'))}: forward or backward`);
      const parsed = parseLogQuery(query);
      const result = runLogQuery(deps.logs.all(), parsed, { startNs, endNs, limit, direction: dirRaw as Direction });
      const entries = result.reduce((n, s) => n + s.values.length, 0);
      return { status: 'success', data: { resultType: 'streams', result, stats: { summary: { totalEntriesReturned: entries } } } };
    } catch (err) {
      if (err instanceof BadRequest || err instanceof LogQlSyntaxError) return text(reply, 400, err.message);
      throw err;
    }
  });

  app.get('/api/traces/:traceId', async (req, reply) => {
    const { traceId } = req.params as { traceId: string };
    if (!/^[0-9a-fA-F]{1,32}$/.test(traceId)) return text(reply, 400, `invalid trace id ${JSON.stringify(traceId)}: expected up to 32 hex characters`);
    const trace = deps.traces.otlpTrace(traceId.toLowerCase().padStart(32, '0'));
    return trace ?? text(reply, 404, 'trace not found');
  });
}
