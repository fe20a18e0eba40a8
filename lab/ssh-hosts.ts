/**
 * One ssh2 server per simulated host, each on its own port with its own host key.
 * Publickey auth for root with the lab client key only; exec sessions only. Each
 * exec runs as a process in the host's runtime; its output and exit status go to
 * the channel when it exits, if the channel is still open. While a host reboots
 * its port stays bound but every connection is dropped at once.
 */
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { Logger } from 'pino';
import { Server as SshServer, utils, type AuthContext, type Connection, type ServerChannel } from 'ssh2';
import type { CommandResult } from './command-types';
import type { SimHostState } from './gpu-host-state';
import type { HostRuntime } from './host-runtime';
import type { KeyPair } from './keys';
import { MAX_STDIN_BYTES, readsStdin } from './stdin';

/** sshd itself is gone this long after `systemctl reboot` returned, at the least. */
const MIN_REBOOT_GRACE_MS = 50;
const SSH_IDENT = 'OpenSSH_9.6p1 Ubuntu-3ubuntu13.5';

export interface SshHostHooks {
  /** Called when the host goes down for a reboot (before it boots again). */
  wentDown(): void;
}

export interface SshHostOptions {
  state: SimHostState;
  runtime: HostRuntime;
  hostKey: KeyPair;
  clientPublicKey: string;
  bindHost: string;
  /** How long the host stays down. */
  rebootDelayMs: number;
  /** Between `systemctl reboot` returning and the host going down (services shutting down). */
  rebootGraceMs: number;
  hooks: SshHostHooks;
  logger: Logger;
}

export class SshHost {
  private readonly net: NetServer;
  private readonly ssh: SshServer;
  private readonly sockets = new Set<Socket>();
  private readonly clientKey: ReturnType<typeof parsePublic>;
  private timers = new Set<NodeJS.Timeout>();
  /** Live sockets by the client's port, to cut one connection on a drop-connection fault. */
  private readonly socketsByPort = new Map<number, Socket>();
  private down = false;
  private rebootPending = false;
  /** The next reboot never finishes (firmware hang, failed POST) until the lab reset. */
  private hangOnBoot = false;
  port = 0;

  constructor(private readonly opts: SshHostOptions) {
    this.clientKey = parsePublic(opts.clientPublicKey);
    this.ssh = new SshServer({ hostKeys: [opts.hostKey.privateKey], ident: SSH_IDENT }, (client, info) => this.onClient(client, info));
    this.net = createServer((socket) => this.onSocket(socket));
  }

  get nodeId(): string {
    return this.opts.state.nodeId;
  }

  get rebooting(): boolean {
    return this.down;
  }

  /** Listens on `preferredPort` when free, else on a random port. */
  async listen(preferredPort?: number): Promise<number> {
    const tryListen = (port: number) =>
      new Promise<number>((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        this.net.once('error', onError);
        this.net.listen(port, this.opts.bindHost, () => {
          this.net.off('error', onError);
          const addr = this.net.address();
          resolve(typeof addr === 'object' && addr ? addr.port : port);
        });
      });
    if (preferredPort) {
      try {
        this.port = await tryListen(preferredPort);
        return this.port;
      } catch (err) {
        this.opts.logger.warn({ node_id: this.nodeId, port: preferredPort, err }, 'previous SSH port unavailable; using a random one');
      }
    }
    this.port = await tryListen(0);
    return this.port;
  }

  /** `systemctl reboot` returned: the host goes down once its services have stopped. */
  rebootSoon(): void {
    if (this.down || this.rebootPending) return;
    this.rebootPending = true;
    this.later(Math.max(MIN_REBOOT_GRACE_MS, this.opts.rebootGraceMs), () => this.reboot());
  }

  /** From now on, a reboot takes the host down and it does not come back. */
  hangNextBoot(): void {
    this.hangOnBoot = true;
  }

  /** Takes the host down now; it boots again (new boot_id) after rebootDelayMs, unless it hangs. */
  reboot(): void {
    this.rebootPending = false;
    if (this.down) return;
    this.down = true;
    this.opts.logger.info({ node_id: this.nodeId }, 'host rebooting');
    this.dropAll();
    this.opts.hooks.wentDown();
    if (this.hangOnBoot) {
      this.opts.logger.info({ node_id: this.nodeId }, 'host hangs during boot');
      return;
    }
    this.later(this.opts.rebootDelayMs, () => {
      this.opts.state.boot(new Date());
      this.down = false;
      this.opts.logger.info({ node_id: this.nodeId, boot_id: this.opts.state.bootId }, 'host up');
    });
  }

  /** Cancels a pending reboot and closes open sessions (used by the lab reset). */
  resetConnections(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.down = false;
    this.rebootPending = false;
    this.hangOnBoot = false;
    this.dropAll();
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.dropAll();
    await new Promise<void>((resolve) => this.net.close(() => resolve()));
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private dropAll(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    this.socketsByPort.clear();
  }

  private onSocket(socket: Socket): void {
    if (this.down) {
      socket.destroy();
      return;
    }
    const port = socket.remotePort;
    this.sockets.add(socket);
    if (port !== undefined) this.socketsByPort.set(port, socket);
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (port !== undefined && this.socketsByPort.get(port) === socket) this.socketsByPort.delete(port);
    });
    socket.on('error', () => socket.destroy());
    this.ssh.injectSocket(socket);
  }

  private onClient(client: Connection, info: { port: number }): void {
    const socket = this.socketsByPort.get(info.port);
    client.on('error', (err) => this.opts.logger.debug({ node_id: this.nodeId, err: err.message }, 'ssh client error'));
    client.on('authentication', (ctx) => this.authenticate(ctx));
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, execInfo) => this.exec(accept(), execInfo.command, socket));
      });
    });
  }

  private authenticate(ctx: AuthContext): void {
    if (ctx.method !== 'publickey' || ctx.username !== 'root') return ctx.reject(['publickey']);
    const k = this.clientKey;
    if (ctx.key.algo !== k.type || !ctx.key.data.equals(k.getPublicSSH())) return ctx.reject(['publickey']);
    // Without a signature the client only asks whether this key would be accepted.
    if (!ctx.signature || !ctx.blob) return ctx.accept();
    if (k.verify(ctx.blob, ctx.signature, ctx.hashAlgo) === true) return ctx.accept();
    return ctx.reject(['publickey']);
  }

  private exec(stream: ServerChannel, command: string, socket: Socket | undefined): void {
    if (!readsStdin(command)) return this.start(stream, command, socket, null, true);
    // The program reads stdin to EOF before it does anything: start it with what the client sent.
    // A client that goes away without EOF closes the pipe, which the program also reads as EOF.
    const chunks: Buffer[] = [];
    let size = 0;
    let started = false;
    const go = (open: boolean) => {
      if (started || this.down) return;
      started = true;
      this.start(stream, command, socket, Buffer.concat(chunks).toString('utf8'), open);
    };
    stream.on('data', (d: Buffer) => {
      if (size + d.length <= MAX_STDIN_BYTES) chunks.push(d);
      size += d.length;
    });
    stream.on('end', () => go(true));
    stream.on('close', () => go(false));
  }

  private start(stream: ServerChannel, command: string, socket: Socket | undefined, stdin: string | null, channelOpen: boolean): void {
    const { runtime, logger } = this.opts;
    // Output is written only at exit (no pty): a channel closed by then gets nothing.
    let open = channelOpen;
    stream.on('close', () => (open = false));
    const handle = runtime.exec(
      command,
      (result: CommandResult) => {
        logger.debug({ node_id: this.nodeId, command, exit_code: result.exitCode, delivered: open }, 'ssh exec');
        if (!open) return;
        try {
          if (result.stdout) stream.write(result.stdout);
          if (result.stderr) stream.stderr.write(result.stderr);
          stream.exit(result.exitCode);
          stream.end();
        } catch (err) {
          logger.debug({ node_id: this.nodeId, command, err: (err as Error).message }, 'channel went away while answering');
        }
      },
      stdin,
    );
    if (handle.dropConnection) {
      // The process is already running; the client just loses the connection.
      open = false;
      logger.info({ node_id: this.nodeId, command }, 'drop-connection fault: cutting the SSH connection');
      setImmediate(() => socket?.destroy());
    }
  }
}

function parsePublic(line: string) {
  const parsed = utils.parseKey(line);
  const key = Array.isArray(parsed) ? parsed[0] : parsed;
  if (!key || key instanceof Error) throw new Error('cannot parse the lab client public key');
  return key;
}
