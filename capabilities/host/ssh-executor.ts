import { ApplicationFailure } from '@temporalio/common';
import { Client, type ConnectConfig } from 'ssh2';
import { ErrorType } from '../../domain/errors';
import type { InventoryHost } from '../../domain/inventory';
import { abortError } from '../cancellation';
import { fingerprint, parsePinnedHostKey } from './host-key';
import { toCommandLine } from './shell-quote';

export interface SshSettings {
  privateKey: Buffer | string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  outputLimitBytes: number;
}

export interface CommandResult {
  command: string;
  exit_code: number | null;
  stdout: string;
  stderr: string;
  /** True when stdout or stderr hit the output cap and was cut. */
  truncated: boolean;
  duration_ms: number;
  /** The connection closed before an exit status arrived (expected for a reboot). */
  disconnected: boolean;
}

export interface ExecOptions {
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Treat a dropped connection as the command's own effect (e.g. reboot) rather than an error. */
  expectDisconnect?: boolean;
  /**
   * Sent to the command's stdin, then EOF (for `install -m 0600 /dev/stdin PATH`), so a secret
   * travels outside argv. Never logged, recorded or put in an error message.
   */
  stdin?: string;
}

export interface SshExecutor {
  exec(host: InventoryHost, argv: readonly string[], opts?: ExecOptions): Promise<CommandResult>;
}

/**
 * One connection per command: simple to reason about across retries and reboots.
 * Connects to `host.host` (never `hostname`), accepts only the pinned host key,
 * and quotes every argument.
 */
export function createSshExecutor(settings: SshSettings): SshExecutor {
  return {
    exec(host, argv, opts = {}) {
      const command = toCommandLine(argv);
      const pinned = parsePinnedHostKey(host.host_key);
      const started = Date.now();
      const timeoutMs = opts.timeoutMs ?? settings.commandTimeoutMs;

      return new Promise<CommandResult>((resolve, reject) => {
        const client = new Client();
        let keyMismatch: string | undefined;
        let ready = false;
        let settled = false;
        let exitCode: number | null = null;
        const out = new CappedBuffer(settings.outputLimitBytes);
        const err = new CappedBuffer(settings.outputLimitBytes);

        const finish = (error?: Error) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          opts.signal?.removeEventListener('abort', onAbort);
          client.end();
          if (error) return reject(error);
          const disconnected = exitCode === null;
          if (disconnected && !opts.expectDisconnect) {
            return reject(unreachable(host, `connection closed before "${argv[0]}" finished`));
          }
          resolve({
            command,
            exit_code: exitCode,
            stdout: out.text(),
            stderr: err.text(),
            truncated: out.truncated || err.truncated,
            duration_ms: Date.now() - started,
            disconnected,
          });
        };
        const timer = setTimeout(
          () =>
            finish(
              ApplicationFailure.create({ type: ErrorType.CommandTimeout, message: `command timed out after ${timeoutMs} ms on ${host.hostname}: ${command}` }),
            ),
          timeoutMs + settings.connectTimeoutMs,
        );
        // Closing the channel does not stop the command on the host; long or
        // mutating commands therefore run as host jobs (activities/host/host-jobs.ts).
        const onAbort = () => finish(abortError(opts.signal, `"${argv[0]}" on ${host.hostname}`));
        if (opts.signal?.aborted) {
          clearTimeout(timer);
          return reject(abortError(opts.signal, `"${argv[0]}" on ${host.hostname}`));
        }
        opts.signal?.addEventListener('abort', onAbort);

        client.on('ready', () => {
          ready = true;
          client.exec(command, (execErr, stream) => {
            if (execErr) return finish(unreachable(host, execErr.message));
            stream.on('data', (d: Buffer) => out.push(d));
            stream.stderr.on('data', (d: Buffer) => err.push(d));
            stream.on('exit', (code: number | null) => {
              exitCode = code ?? null;
            });
            stream.on('close', () => finish());
            if (opts.stdin !== undefined) stream.end(opts.stdin);
          });
        });
        client.on('error', (e) => {
          if (keyMismatch) {
            return finish(
              ApplicationFailure.create({
                type: ErrorType.HostKeyMismatch,
                message: `host key of ${host.hostname} (${host.host}:${host.port}) does not match the pinned key: presented ${keyMismatch}, pinned ${fingerprint(pinned.blob)}`,
                nonRetryable: true,
              }),
            );
          }
          // A reboot may drop the connection mid-command; that is the command working.
          if (opts.expectDisconnect && ready) return finish();
          finish(unreachable(host, e.message));
        });
        client.on('close', () => finish());

        const config: ConnectConfig = {
          host: host.host,
          port: host.port,
          username: host.user,
          privateKey: settings.privateKey,
          readyTimeout: settings.connectTimeoutMs,
          algorithms: { serverHostKey: [pinned.type as never] },
          hostVerifier: (key: Buffer) => {
            if (key.equals(pinned.blob)) return true;
            keyMismatch = fingerprint(key);
            return false;
          },
        };
        client.connect(config);
      });
    },
  };
}

function unreachable(host: InventoryHost, why: string): ApplicationFailure {
  return ApplicationFailure.create({ type: ErrorType.HostUnreachable, message: `${host.hostname} (${host.host}:${host.port}): ${why}` });
}

/** Keeps the first `limit` bytes and notes that the rest was dropped. */
class CappedBuffer {
  private chunks: Buffer[] = [];
  private size = 0;
  truncated = false;
  constructor(private readonly limit: number) {}
  push(chunk: Buffer) {
    const room = this.limit - this.size;
    if (room <= 0) {
      this.truncated = true;
      return;
    }
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    if (kept.length < chunk.length) this.truncated = true;
    this.chunks.push(kept);
    this.size += kept.length;
  }
  text() {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}
