import net from 'node:net';

/** Raised when a port the engine wants to listen on is taken. The message is meant for humans. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly port: number,
    readonly host: string,
    message: string,
  ) {
    super(message);
  }
}

/** Resolves true when `port` can be bound on `host` right now. */
export function isPortFree(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EADDRINUSE' || err.code === 'EACCES') resolve(false);
      else reject(err);
    });
    // exclusive: do not share the handle with cluster workers; a port bound elsewhere stays "in use".
    server.listen({ port, host, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Throws a PortInUseError with a readable message when `port` is taken, e.g.
 *   port 7233 is already in use on 127.0.0.1 (needed for the Temporal frontend). ...
 */
export async function assertPortFree(port: number, host: string, what: string, hint?: string): Promise<void> {
  if (await isPortFree(port, host)) return;
  const lines = [
    `port ${port} is already in use on ${host} (needed for ${what}).`,
    hint ?? 'Stop the process listening there (see `ss -ltnp`), or configure a different port.',
  ];
  throw new PortInUseError(port, host, lines.join(' '));
}

/**
 * Returns a port that can be bound on `host`: `preferred` when it is free, otherwise one the
 * kernel hands out. (Another process can still take it before the caller binds it.)
 */
export async function findFreePort(opts: { host?: string; preferred?: number } = {}): Promise<number> {
  const host = opts.host ?? '127.0.0.1';
  if (opts.preferred !== undefined && (await isPortFree(opts.preferred, host))) return opts.preferred;
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port: 0, host, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close(() => reject(new Error('could not determine a free port')));
        return;
      }
      const { port } = address;
      server.close(() => resolve(port));
    });
  });
}
