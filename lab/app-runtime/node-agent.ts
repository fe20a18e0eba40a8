/**
 * gpuaas-node-agent on a worker: what its main process does. It reads
 * /etc/gpuaas/node-agent.env once at start. Each connection attempt resolves
 * the node API name (/etc/hosts, then DNS) and dials it, then loads its TLS
 * identity: an expired certificate keeps it disconnected (retrying with
 * backoff); no certificate and key means enrolling with the env token (single
 * use: a stale one is `401 token_invalid`, and the process exits for systemd to
 * restart it). Only a connected agent receives node tasks.
 */
import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { AppHost } from './app-host';
import { RECONCILE_KEY_TASK, type AppPlatform, type NodeTask } from './app-platform';
import { decodeCertificate, encodeCertificate, newCertificate, newPrivateKeyPem, opensslTime } from './certs';
import { CONTROL_PLANE_IP, NODE_AGENT_VERSION, PATHS, reachable } from './fleet';
import { parseEnvFile } from './host-files';
import { logfmt } from './logfmt';
import { resolveName, type LabDns } from './resolver';
import type { ServiceLogWriter } from '../observability';
import type { ProcessContext, ServiceProcess } from './service-units';
import type { Timer } from './scheduler';

/** Real durations, in ms. */
export const AGENT_TIMINGS = {
  /** A lookup that finds nothing. */
  dnsFailure: 40,
  /** connect(2) to an address with no route: the ARP/ICMP timeout. */
  noRoute: 3_000,
  /** TCP + TLS handshake to the node API. */
  connect: 250,
  /** POST /v1/nodes/enroll and writing the identity. */
  enroll: 800,
  backoffStart: 1_000,
  backoffMax: 30_000,
  heartbeat: 60_000,
  taskDispatch: 150,
  taskRun: 800,
  /** A certificate the node API issues is valid this long. */
  certValidity: 365 * 86_400_000,
} as const;

type Dial = { ok: true; ip: string; ms: number } | { ok: false; err: string; ms: number };

export interface AgentDeps {
  host: AppHost;
  platform: AppPlatform;
  dns: LabDns;
  /** The lab's central logs (Loki): the agent ships each journal line there too, as JSON. */
  logs?: ServiceLogWriter;
}

export class NodeAgent {
  /** Holds a live session to the node API. */
  connected = false;
  private ctx: ProcessContext | null = null;
  private env = new Map<string, string>();
  private backoffMs: number = AGENT_TIMINGS.backoffStart;
  private heartbeats = 0;
  private retry: Timer | null = null;
  /** Tasks between dispatch and completion, by id. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: AgentDeps) {}

  /** The unit's main process. */
  process(): ServiceProcess {
    return {
      run: (ctx) => this.run(ctx),
      stopping: () => this.log('info', 'received signal, shutting down', { signal: 'terminated' }),
      ended: () => this.ended(),
    };
  }

  /** The node API closed the session (a fault, a network change): reconnect with backoff. */
  lose(reason: string): void {
    if (!this.ctx || !this.connected) return;
    this.connected = false;
    this.requeueInFlight();
    this.log('warn', 'connection to node-api lost', { err: reason });
    this.scheduleRetry();
  }

  /** A task for this node was created: a connected agent gets it at once. */
  pump(): void {
    const ctx = this.ctx;
    if (!ctx || !this.connected) return;
    for (const task of this.deps.platform.tasksForNode(this.deps.host.nodeId)) {
      if (task.state !== 'queued' || this.inFlight.has(task.id)) continue;
      this.inFlight.add(task.id);
      ctx.after(AGENT_TIMINGS.taskDispatch, () => this.dispatch(task));
    }
  }

  // -------------------------------------------------------------------------------------------

  private get nodeId(): string {
    return this.env.get('GPUAAS_NODE_ID') ?? this.deps.host.nodeId;
  }

  private apiUrl(): URL | undefined {
    try {
      return new URL(this.env.get('GPUAAS_NODE_API_URL') ?? '');
    } catch {
      return undefined;
    }
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields: Record<string, string | number> = {}): void {
    if (!this.ctx) return;
    this.ctx.log(logfmt(level, msg, fields));
    this.deps.logs?.({ ...fields, level, msg, component: 'node-agent', node_id: this.nodeId });
  }

  private run(ctx: ProcessContext): void {
    this.ctx = ctx;
    this.connected = false;
    this.backoffMs = AGENT_TIMINGS.backoffStart;
    this.env = parseEnvFile(this.deps.host.files.read(PATHS.agentEnv) ?? '');
    if (ctx.resumed) {
      // Set up by the lab as a long-running, healthy agent.
      this.connected = true;
      this.scheduleHeartbeat();
      this.pump();
      return;
    }
    this.log('info', 'starting gpuaas-node-agent', { version: NODE_AGENT_VERSION, node_id: this.nodeId });
    const url = this.apiUrl();
    if (!this.env.get('GPUAAS_NODE_ID') || !url) {
      const missing = !this.env.get('GPUAAS_NODE_ID') ? 'GPUAAS_NODE_ID' : 'GPUAAS_NODE_API_URL';
      this.log('error', 'invalid configuration', { err: `${missing} is not set or invalid`, file: PATHS.agentEnv });
      ctx.after(20, () => ctx.exit(1));
      return;
    }
    ctx.after(100, () => this.attempt(true));
  }

  private ended(): void {
    this.connected = false;
    this.ctx = null;
    this.retry = null;
    this.requeueInFlight();
  }

  private dial(host: string): Dial {
    const resolved = resolveName(this.deps.host.files, this.deps.dns, host);
    if (!resolved) return { ok: false, err: `dial tcp: lookup ${host}: no such host`, ms: AGENT_TIMINGS.dnsFailure };
    if (!reachable(true, resolved.ip)) return { ok: false, err: `dial tcp ${resolved.ip}:443: connect: no route to host`, ms: AGENT_TIMINGS.noRoute };
    return { ok: true, ip: resolved.ip, ms: AGENT_TIMINGS.connect };
  }

  /** One connection attempt; only the first one of a process enrolls when there is no identity at all. */
  private attempt(startup: boolean): void {
    const ctx = this.ctx;
    const url = this.apiUrl();
    if (!ctx || !url) return;
    const { files } = this.deps.host;
    const hasCert = files.exists(PATHS.agentCert);
    const hasKey = files.exists(PATHS.agentKey);
    if (startup && !hasCert && !hasKey) return this.enroll(url);
    if (!hasCert || !hasKey) {
      const missing = hasCert ? PATHS.agentKey : PATHS.agentCert;
      this.log('error', 'load tls identity', { err: `open ${missing}: no such file or directory` });
      ctx.after(10, () => ctx.exit(1));
      return;
    }
    const dial = this.dial(url.hostname);
    ctx.after(dial.ms, () => {
      if (!dial.ok) {
        this.log('warn', 'node-api connect failed', { url: `wss://${url.host}/v1/agent/connect`, err: dial.err });
        return this.scheduleRetry();
      }
      const cert = decodeCertificate(files.read(PATHS.agentCert) ?? '');
      if (!cert) {
        this.log('error', 'load tls identity', { err: 'tls: failed to find any PEM data in certificate input', cert: PATHS.agentCert });
        return ctx.exit(1);
      }
      if (cert.notAfter.getTime() <= Date.now()) {
        this.log('error', 'tls identity unusable', { err: `local certificate expired (notAfter=${opensslTime(cert.notAfter)})`, cert: PATHS.agentCert });
        return this.scheduleRetry();
      }
      this.connect(url, dial.ip);
    });
  }

  private enroll(url: URL): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const enrollUrl = `https://${url.host}/v1/nodes/enroll`;
    this.log('info', 'no local node identity; enrolling', { cert: PATHS.agentCert });
    const dial = this.dial(url.hostname);
    ctx.after(dial.ms + (dial.ok ? AGENT_TIMINGS.enroll : 0), () => {
      if (!dial.ok) {
        this.log('error', `enrollment failed: Post "${enrollUrl}": ${dial.err}`);
        return ctx.exit(1);
      }
      const token = this.env.get('GPUAAS_ENROLLMENT_TOKEN') ?? '';
      if (!token) {
        this.log('error', 'enrollment failed: GPUAAS_ENROLLMENT_TOKEN is not set', { file: PATHS.agentEnv });
        return ctx.exit(1);
      }
      if (!this.deps.platform.redeemToken(this.deps.host.nodeId, token)) {
        this.log('error', 'enrollment failed: 401 token_invalid', { url: enrollUrl });
        return ctx.exit(1);
      }
      const now = new Date();
      const cert = newCertificate(this.nodeId, new Date(now.getTime() - 60_000), new Date(now.getTime() + AGENT_TIMINGS.certValidity));
      const { files } = this.deps.host;
      files.addDir(PATHS.agentStateDir, { mode: 0o700 });
      files.write(PATHS.agentKey, newPrivateKeyPem(), { mode: 0o600 });
      files.write(PATHS.agentCert, encodeCertificate(cert), { mode: 0o644 });
      this.log('info', 'node certificate enrolled', { serial: cert.serial, not_after: cert.notAfter.toISOString() });
      this.connect(url, dial.ip);
    });
  }

  private connect(url: URL, ip: string): void {
    this.connected = true;
    this.backoffMs = AGENT_TIMINGS.backoffStart;
    this.log('info', 'connected to node-api', { url: `wss://${url.host}/v1/agent/connect`, addr: `${ip}:443`, session: randomBytes(4).toString('hex') });
    this.scheduleHeartbeat();
    this.pump();
  }

  private scheduleRetry(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(AGENT_TIMINGS.backoffMax, this.backoffMs * 2);
    this.log('info', 'reconnecting', { backoff: `${wait / 1000}s` });
    this.retry?.cancel();
    this.retry = ctx.after(wait, () => {
      this.retry = null;
      this.attempt(false);
    });
  }

  /** While connected: routine lines, and the session checked against the host's current state. */
  private scheduleHeartbeat(): void {
    const ctx = this.ctx;
    if (!ctx) return;
    ctx.after(AGENT_TIMINGS.heartbeat * (0.9 + Math.random() * 0.2), () => {
      if (!this.connected) return;
      const url = this.apiUrl();
      const dial = url ? this.dial(url.hostname) : undefined;
      const cert = decodeCertificate(this.deps.host.files.read(PATHS.agentCert) ?? '');
      if (!dial?.ok)
        return this.lose(
          `read tcp ${this.deps.host.identity.address}:${41000 + (this.heartbeats % 20000)}->${CONTROL_PLANE_IP}:443: read: connection reset by peer`,
        );
      if (!cert || cert.notAfter.getTime() <= Date.now()) return this.lose('remote error: tls: expired certificate');
      this.heartbeats++;
      if (this.heartbeats % 5 === 0) this.log('info', 'inventory reported', { gpus: 8, driver: '550.90.07', allocations: 0 });
      else this.log('info', 'heartbeat ok', { rtt_ms: 8 + Math.floor(Math.random() * 9) });
      this.scheduleHeartbeat();
    });
  }

  private dispatch(task: NodeTask): void {
    const ctx = this.ctx;
    if (!ctx || !this.connected || task.state !== 'queued') {
      this.inFlight.delete(task.id);
      return;
    }
    task.state = 'dispatched';
    task.dispatched_at = new Date().toISOString();
    this.log('info', 'node task received', { task_id: task.id, type: task.type });
    const started = Date.now();
    ctx.after(AGENT_TIMINGS.taskRun, () => {
      this.inFlight.delete(task.id);
      if (!this.connected || task.state !== 'dispatched') return;
      const error = this.apply(task);
      task.state = error ? 'failed' : 'completed';
      task.error = error;
      task.completed_at = new Date().toISOString();
      if (error) this.log('error', 'node task failed', { task_id: task.id, type: task.type, err: error });
      else this.log('info', 'node task completed', { task_id: task.id, type: task.type, duration_ms: Date.now() - started });
    });
  }

  /** A dispatched task whose session went away goes back to the queue (the node API re-offers it). */
  private requeueInFlight(): void {
    for (const task of this.deps.platform.tasksForNode(this.deps.host.nodeId)) {
      if (task.state === 'dispatched') {
        task.state = 'queued';
        task.dispatched_at = null;
      }
    }
    this.inFlight.clear();
  }

  /** Runs the task on the host; an error message when it cannot. */
  private apply(task: NodeTask): string | null {
    if (task.type !== RECONCILE_KEY_TASK) return `unknown task type ${task.type}`;
    const allocation = this.deps.platform.allocation(task.allocation_id);
    const key = this.deps.platform.managedKey(task.app_instance_id);
    if (!allocation || allocation.state === 'released' || !key) return `allocation ${task.allocation_id} is not active on this node`;
    installManagedKey(this.deps.host, allocation.ssh_user, key);
    return null;
  }
}

/** Puts the instance's managed key into the user's authorized_keys, replacing only an older managed line for the same instance. */
export function installManagedKey(host: AppHost, user: string, keyLine: string): void {
  const marker = keyLine.split(' ').slice(2).join(' ');
  const path = `/home/${user}/.ssh/authorized_keys`;
  const { files } = host;
  if (!files.isDir(posix.dirname(path))) files.addDir(posix.dirname(path), { mode: 0o700, owner: user, group: user });
  const kept = (files.read(path) ?? '').split('\n').filter((l) => l.trim() !== '' && !(marker && l.endsWith(` ${marker}`)));
  files.write(path, `${[...kept, keyLine].join('\n')}\n`, { mode: 0o600, owner: user, group: user });
}
