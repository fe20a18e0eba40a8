/**
 * The lab's Loki push API (POST /loki/api/v1/push, JSON): how a process outside
 * the lab, the engine itself, ships its log lines where triage reads them.
 * Wire-compatible with Loki's JSON push, so a shipper pointed at a real Loki
 * works unchanged: streams of labels and [ns timestamp, line] values; a third
 * value (structured metadata) is accepted and not kept. Bad pushes are a plain
 * text 400 that stores nothing, as Loki answers them; no token, as an
 * unauthenticated Loki's.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { LabLogStore } from './log-store';

/** Loki's default max_line_size. */
export const MAX_LINE_BYTES = 256 * 1024;
const MAX_PUSH_BYTES = 16 * 1024 * 1024;

const LabelName = z.string().regex(/^[a-zA-Z_][a-zA-Z0-9_]*$/, 'label names are [a-zA-Z_][a-zA-Z0-9_]*');
const Timestamp = z.string().regex(/^\d{1,19}$/, 'timestamps are integer nanoseconds, as a string');
/** [timestamp, line], or with structured metadata as a third value. */
const Entry = z.union([z.tuple([Timestamp, z.string()]), z.tuple([Timestamp, z.string(), z.record(z.string())])]);
const PushBody = z.object({
  streams: z.array(
    z.object({
      stream: z.record(LabelName, z.string()).refine((labels) => Object.keys(labels).length > 0, 'at least one label pair is required per stream'),
      values: z.array(Entry),
    }),
  ),
});

function describe(err: z.ZodError): string {
  const issue = err.issues[0]!;
  return `invalid push: ${issue.path.join('.') || 'body'}: ${issue.message}`;
}

export function registerPushApi(app: FastifyInstance, logs: LabLogStore): void {
  // Its own scope, taking any body, so another encoding (Promtail's protobuf) gets Loki's plain-text answer, not the lab's JSON error.
  void app.register(async (scope) => {
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    registerPushRoute(scope, logs);
  });
}

function registerPushRoute(app: FastifyInstance, logs: LabLogStore): void {
  app.post('/loki/api/v1/push', { bodyLimit: MAX_PUSH_BYTES }, async (req, reply) => {
    const bad = (status: number, body: string) => reply.code(status).type('text/plain; charset=utf-8').send(`${body}\n`);
    if (!/^application\/json\b/i.test(req.headers['content-type'] ?? ''))
      return bad(415, `unsupported Content-Type ${JSON.stringify(req.headers['content-type'] ?? '')}: the lab's Loki takes JSON pushes only`);
    const parsed = PushBody.safeParse(req.body);
    if (!parsed.success) return bad(400, describe(parsed.error));
    // Check every line before storing any: a rejected push leaves nothing behind.
    for (const s of parsed.data.streams)
      for (const [, line] of s.values)
        if (Buffer.byteLength(line) > MAX_LINE_BYTES)
          return bad(
            400,
            `max line size exceeded: a line of ${Buffer.byteLength(line)} bytes for stream ${JSON.stringify(s.stream)} (limit ${MAX_LINE_BYTES})`,
          );
    for (const s of parsed.data.streams) for (const [ts, line] of s.values) logs.append({ tsNs: BigInt(ts), labels: { ...s.stream }, line });
    return reply.code(204).send();
  });
}
