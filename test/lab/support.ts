/** Test helpers: a real ssh2 client pinned to the inventory host key, and JSON HTTP. */
import { readFileSync } from 'node:fs';
import { Client, utils } from 'ssh2';
import type { InventoryHost } from '../../domain/inventory';

export interface ExecResult {
  stdout: string;
  stderr: string;
  code: number | null;
}

export function hostKeyBlob(hostKeyLine: string): Buffer {
  const parsed = utils.parseKey(hostKeyLine);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('bad host key');
  return key.getPublicSSH();
}

export function connect(host: InventoryHost, privateKeyPath: string, opts: { username?: string; privateKey?: string } = {}): Promise<Client> {
  const expected = hostKeyBlob(host.host_key);
  return new Promise((resolve, reject) => {
    const client = new Client();
    client
      .on('ready', () => resolve(client))
      .on('error', reject)
      // A host going down mid-handshake closes the socket without an 'error'.
      .on('close', () => reject(new Error('connection closed before the SSH handshake finished')))
      .connect({
        host: host.host,
        port: host.port,
        username: opts.username ?? host.user,
        privateKey: opts.privateKey ?? readFileSync(privateKeyPath, 'utf8'),
        hostVerifier: (key: Buffer) => key.equals(expected),
        readyTimeout: 5000,
      });
  });
}

export function exec(client: Client, command: string): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      let stdout = '';
      let stderr = '';
      let code: number | null = null;
      stream.on('data', (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      stream.on('exit', (c: number | null) => (code = c));
      stream.on('close', () => resolve({ stdout, stderr, code }));
      // A dropped connection: whatever arrived, and no exit status.
      client.once('close', () => resolve({ stdout, stderr, code }));
    });
  });
}

/** Connects, runs one command, disconnects. */
export async function run(host: InventoryHost, privateKeyPath: string, command: string): Promise<ExecResult> {
  const client = await connect(host, privateKeyPath);
  try {
    return await exec(client, command);
  } finally {
    client.end();
  }
}

export interface HttpResult<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export async function http<T = any>(
  baseUrl: string,
  method: string,
  path: string,
  opts: { token?: string; body?: unknown; key?: string } = {},
): Promise<HttpResult<T>> {
  const headers: Record<string, string> = {};
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.key) headers['idempotency-key'] = opts.key;
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as T) : (undefined as T), headers: res.headers };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitFor<T>(fn: () => Promise<T | undefined>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(intervalMs);
  }
}
