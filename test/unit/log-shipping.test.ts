/**
 * The engine's Loki shipper on the wire: what it pushes (Loki's JSON push, the
 * engine's stream labels, the line as pino wrote it), that credentials in
 * LOKI_PUSH_URL travel as basic auth, and that close() sends what a long batch
 * interval still holds. The peer is a plain HTTP server that keeps each request.
 */
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { lokiLogShipper } from '../../runtime/log-shipping';

interface Pushed {
  url: string;
  authorization?: string;
  body: { streams: { stream: Record<string, string>; values: [string, string][] }[] };
}

let server: http.Server;
let base: string;
const pushes: Pushed[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      pushes.push({ url: req.url ?? '', authorization: req.headers.authorization, body: JSON.parse(body) as Pushed['body'] });
      res.writeHead(204).end();
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

test('close() pushes what the batch still holds, with the engine labels, the line as written and credentials as basic auth', async () => {
  // A batch interval far longer than the test: only close() can send these.
  const shipper = lokiLogShipper({ pushUrl: `http://ops%40lab:s3cret@${base}`, service: 'gpuaas-runbooks-worker', batchIntervalMs: 600_000 });
  const logger = pino({ base: { service: 'gpuaas-runbooks-worker' } }, shipper.stream);
  logger.info({ correlation_id: 'c-ship-1', host_name: 'dev-gpu-1', host_role: 'worker_compute' }, 'running command');
  logger.warn({ correlation_id: 'c-ship-1' }, 'waiting for a disruption slot');
  await new Promise((r) => setTimeout(r, 100));
  expect(pushes).toHaveLength(0);

  await shipper.close();
  expect(pushes).toHaveLength(1);
  const [push] = pushes;
  expect(push!.url).toBe('/loki/api/v1/push');
  expect(push!.authorization).toBe(`Basic ${Buffer.from('ops@lab:s3cret').toString('base64')}`);
  const streams = push!.body.streams;
  expect(streams.map((s) => s.stream)).toEqual([
    expect.objectContaining({ job: 'gpuaas-runbooks', service: 'gpuaas-runbooks-worker', level: 'info', instance: expect.any(String) }),
    expect.objectContaining({ job: 'gpuaas-runbooks', service: 'gpuaas-runbooks-worker', level: 'warning' }),
  ]);
  // No host role as a label: the host a line is about stays a field of the line.
  expect(streams.every((s) => !('host_role' in s.stream) && !('host_name' in s.stream))).toBe(true);
  const first = JSON.parse(streams[0]!.values[0]![1]) as Record<string, unknown>;
  expect(first).toMatchObject({ msg: 'running command', correlation_id: 'c-ship-1', host_name: 'dev-gpu-1', host_role: 'worker_compute' });
  expect(streams[0]!.values[0]![0]).toMatch(/^\d{19}$/);
});
