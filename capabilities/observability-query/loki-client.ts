/**
 * Reads logs from Loki (the lab's, or a fleet's at LOKI_URL) with
 * GET /loki/api/v1/query_range, and returns them as the engine's LogEvents in
 * the order asked. Only log queries: a metric query's matrix is refused.
 */
import { z } from 'zod';
import type { LogEvent } from '../../domain/incident-evidence';
import { logEventFromLoki } from './log-event-from-loki';
import { getJson, type ObservabilityEndpoint } from './observability-http';

const QueryRangeResponse = z.object({
  status: z.literal('success'),
  data: z.object({
    resultType: z.literal('streams'),
    result: z.array(
      z.object({
        stream: z.record(z.string()),
        // Loki 3 may add a third element (structured metadata) when asked to categorize labels.
        values: z.array(z.union([z.tuple([z.string().regex(/^\d+$/), z.string()]), z.tuple([z.string().regex(/^\d+$/), z.string(), z.unknown()])])),
      }),
    ),
  }),
});

export interface LogRangeQuery {
  /** LogQL, e.g. `{host_role="app_control"} | json | correlation_id="c-1"`. */
  query: string;
  start: Date;
  end: Date;
  /** Loki's default is 100; its own cap (max_entries_limit_per_query) is usually 5000. */
  limit?: number;
  direction?: 'forward' | 'backward';
}

export class LokiClient {
  constructor(private readonly endpoint: ObservabilityEndpoint) {}

  async queryRange(q: LogRangeQuery): Promise<LogEvent[]> {
    const direction = q.direction ?? 'forward';
    const params = new URLSearchParams({
      query: q.query,
      start: (BigInt(q.start.getTime()) * 1_000_000n).toString(),
      end: (BigInt(q.end.getTime()) * 1_000_000n).toString(),
      limit: String(q.limit ?? 1000),
      direction,
    });
    const body = await getJson(this.endpoint, 'loki/api/v1/query_range', params, QueryRangeResponse, `Loki query ${q.query}`);
    const entries = body.data.result.flatMap((s) => s.values.map((v) => ({ tsNs: BigInt(v[0]), event: logEventFromLoki(s.stream, v[0], v[1]) })));
    // Streams come back one after another; the caller wants one timeline.
    const sign = direction === 'forward' ? 1 : -1;
    entries.sort((a, b) => sign * (a.tsNs < b.tsNs ? -1 : a.tsNs > b.tsNs ? 1 : 0));
    return entries.map((e) => e.event);
  }
}
