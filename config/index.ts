/**
 * The one place configuration is read. Every variable is validated up front; all problems are
 * reported together in one ConfigError, one variable per line.
 */
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { APPROVAL_KINDS } from '../domain/approvals';
import { BudgetConfigSchema, type BudgetConfig } from '../domain/disruption';
import { DurationSchema } from '../domain/durations';
import { InventorySchema, type Inventory } from '../domain/inventory';
import { OrchestratorClustersSchema, type OrchestratorCluster } from '../domain/orchestrator';
import { chooseInventoryFile } from './ansible-environment';
import { loadAnsibleInventory } from './ansible-inventory';
import { ConfigError } from './config-error';

export { ConfigError };

/**
 * A value that must never reach a log line: JSON.stringify, util.inspect, String() and
 * template literals all print "[redacted]". Read it with reveal().
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  toJSON(): string {
    return '[redacted]';
  }
  toString(): string {
    return '[redacted]';
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return 'Secret([redacted])';
  }
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Lab mode: `npm start` starts the lab (simulated hosts and platform API). */
export interface LabFleetConfig {
  mode: 'lab';
}

/** Real fleet mode: hosts come from INVENTORY_FILE, the platform API is real. The lab is not started. */
export interface InventoryFleetConfig {
  mode: 'inventory';
  /** A JSON or YAML inventory, or an Ansible hosts.ini (the one GPUAAS_ENVIRONMENT picks when INVENTORY_FILE is a folder). */
  inventoryFile: string;
  sshPrivateKeyFile: string;
  platformApiUrl: string;
  platformApiToken: Secret;
  /** The GPU orchestrator clusters the orchestrator runbooks act on (ORCHESTRATOR_CLUSTERS_FILE); none when unset. */
  orchestratorClustersFile?: string;
}

export interface TemporalSecurity {
  /** undefined: plaintext. Set when TEMPORAL_TLS is on or any TLS file is given. */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  apiKey?: Secret;
}

export interface Config {
  temporal: {
    /** host:port of an existing server; undefined → `npm start` launches the dev server. */
    address?: string;
    namespace: string;
    taskQueue: string;
    /** Where the disruption ledgers run (default: taskQueue); some worker must always poll it. */
    ledgerTaskQueue: string;
    /** Dev server ports (used only when address is unset). */
    port: number;
    uiPort: number;
    /** The Web UI operators open (the inbox links runs there): TEMPORAL_UI_URL, else the dev server's on uiPort. */
    uiUrl: string;
    /** How to reach a secured cluster: TLS (server CA, client certificate for mTLS) and an API key. */
    security: TemporalSecurity;
  };
  /** undefined → embedded PostgreSQL under dataDir. */
  databaseUrl?: string;
  /** The orchestrator's Redis (job streams, DLQ); undefined → `npm start` starts redis-server under dataDir. */
  redisUrl?: string;
  /** The orchestrator's SQL database, mysql:// or postgres://; undefined → a local or started MariaDB. */
  orchestratorDbUrl?: string;
  /**
   * The alert path the orchestrator-alert-check runbook reads (PROMETHEUS_URL, ALERTMANAGER_URL);
   * undefined → in lab mode `npm start` starts both around the lab, against an inventory the runbook refuses to run.
   */
  alerting: { prometheusUrl?: string; alertmanagerUrl?: string };
  /** Absolute path. */
  dataDir: string;
  api: { host: string; port: number };
  /** Who may call the API: hashed bearer tokens in `tokensFile`, and OIDC JWTs when `oidc` is set. */
  auth: {
    tokensFile: string;
    oidc?: { issuer: string; audience: string; jwksUrl: string; principalClaim: string; rolesClaim: string };
  };
  /** Alert storms: after a run closes, alerts carrying no Xid it did not see are answered with it for this long. */
  alerts: { cooldownMs: number };
  fleet: LabFleetConfig | InventoryFleetConfig;
  ssh: { connectTimeoutMs: number; commandTimeoutMs: number; outputLimitBytes: number };
  /** How long a stopping worker lets in-flight activities finish before it cancels them (they are retried elsewhere). */
  /**
   * How long a stopping worker lets in-flight activities finish; how many workflows it keeps
   * in memory between tasks (unset: the SDK's default, sized from the heap).
   */
  worker: { shutdownGraceMs: number; maxCachedWorkflows?: number };
  /** Approval rules: whether signal decisions count, approvers needed per kind, escalation webhooks by group. */
  approvals: { signals: boolean; minApprovals: Record<string, number>; escalationWebhooks: Record<string, string> };
  /** Disruption caps by inventory label (rack, pool, ...); every node is also leased on its own. */
  budgets: BudgetConfig;
  /** Where drills inject faults on a real fleet (a staging hook); in lab mode the lab's own API. */
  drills: { faultUrl?: string; faultToken?: Secret };
  logLevel: LogLevel;
  otel: { endpoint?: string };
  /**
   * Where incident triage reads logs (Loki's query_range) and traces (Tempo's trace by id).
   * Unset in lab mode: the lab's own endpoints; unset on a real fleet: no log or trace evidence.
   */
  observability: { lokiUrl?: string; tempoUrl?: string };
  /** The engine's own lines pushed to a Loki (LOKI_PUSH_URL; `npm start` uses the lab's), batched every intervalMs. */
  logShipping: { lokiPushUrl?: string; intervalMs: number };
  /** The simulated fleet (`npm start` without INVENTORY_FILE). */
  lab: {
    /** Multiplies every simulated command duration and reboot (1 = real time). */
    timeScale: number;
    /** worker_compute hosts beyond dev-gpu-1. */
    extraGpuNodes: number;
  };
}

const SECRET_VARIABLES = new Set([
  'PLATFORM_API_TOKEN',
  'DATABASE_URL',
  'REDIS_URL',
  'ORCHESTRATOR_DB_URL',
  'DRILL_FAULT_TOKEN',
  'TEMPORAL_API_KEY',
  'ESCALATION_WEBHOOKS',
]);

const port = z.coerce
  .number({ invalid_type_error: 'expected a port number' })
  .int('expected an integer port')
  .min(1, 'expected a port between 1 and 65535')
  .max(65535, 'expected a port between 1 and 65535');

const nonEmpty = z.string().min(1);

const hostPort = z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[^\s:[\]/]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:7233 or temporal.example.com:7233');

const httpUrl = z
  .string()
  .url('expected a URL')
  .refine((u) => /^https?:\/\//i.test(u), 'expected an http:// or https:// URL');

const postgresUrl = z.string().refine((u) => /^postgres(ql)?:\/\/[^\s]+$/i.test(u), 'expected postgres://user:password@host:port/database');

const redisUrl = z.string().refine((u) => /^rediss?:\/\/[^\s]+$/i.test(u), 'expected redis://[:password@]host:port[/db]');

/** The orchestrator's leader lock is a MySQL named lock or a PostgreSQL advisory lock: one of the two. */
const orchestratorDbUrl = z
  .string()
  .refine((u) => /^(mysql|postgres(ql)?):\/\/[^\s]+$/i.test(u), 'expected mysql://user:password@host:port/database or postgres://...');

const duration = z.string().pipe(DurationSchema);

const positiveInt = z.coerce.number({ invalid_type_error: 'expected a number' }).int('expected a whole number').positive('expected a positive number');

const nonNegativeInt = z.coerce.number({ invalid_type_error: 'expected a number' }).int('expected a whole number').min(0, 'expected 0 or more');

const positiveNumber = z.coerce
  .number({ invalid_type_error: 'expected a number' })
  .finite('expected a finite number')
  .positive('expected a number greater than 0');

/** JSON caps by label, e.g. {"rack":{"max":1},"pool":{"max_percent":10}}. */
const budgets = z
  .string()
  .transform((raw, ctx) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'expected JSON, e.g. {"rack":{"max":1},"pool":{"max_percent":10}}' });
      return z.NEVER;
    }
  })
  .pipe(BudgetConfigSchema);

/** `name=value` pairs separated by commas, each value checked by `value`. */
function keyValueList<T extends z.ZodTypeAny>(key: z.ZodType<string>, value: T, example: string) {
  return z.string().transform((raw, ctx) => {
    const out: Record<string, z.output<T>> = {};
    for (const item of raw
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean)) {
      const eq = item.indexOf('=');
      const k = key.safeParse(item.slice(0, eq).trim());
      const v = value.safeParse(item.slice(eq + 1).trim());
      if (eq < 1 || !k.success || !v.success) {
        // Only the name is echoed: a value may be a secret (a webhook URL with its token).
        const name = eq < 1 ? '(no name)' : JSON.stringify(item.slice(0, Math.min(eq, 60)));
        ctx.addIssue({ code: z.ZodIssueCode.custom, message: `cannot read the entry named ${name}: expected e.g. ${example}` });
        return z.NEVER;
      }
      out[k.data] = v.data;
    }
    return out;
  });
}

/** `rma=2,gpu-fault-remediation/force_evict=2`: approvers needed by approval kind, or by runbook and kind. */
const minApprovals = keyValueList(
  z.string().regex(new RegExp(`^([a-z0-9-]+/)?(${APPROVAL_KINDS.join('|')})$`)),
  z.coerce.number().int().min(1).max(10),
  `rma=2,gpu-fault-remediation/force_evict=2 (kinds: ${APPROVAL_KINDS.join(', ')})`,
);

/** `hw-oncall=https://hooks.example.com/...`: escalation group → webhook. */
const escalationWebhooks = keyValueList(z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/), httpUrl, 'hw-oncall=https://hooks.example.com/escalate');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const logLevel = z.enum(LOG_LEVELS, { errorMap: () => ({ message: `expected one of ${LOG_LEVELS.join(', ')}` }) });

/** Each variable with its schema and default; '' counts as unset. */
const VARIABLES = {
  TEMPORAL_ADDRESS: hostPort.optional(),
  TEMPORAL_NAMESPACE: nonEmpty.default('default'),
  TEMPORAL_TASK_QUEUE: nonEmpty.default('gpuaas-runbooks'),
  TEMPORAL_LEDGER_TASK_QUEUE: nonEmpty.optional(),
  TEMPORAL_TLS: z.enum(['true', 'false']).optional(),
  TEMPORAL_TLS_CA_FILE: nonEmpty.optional(),
  TEMPORAL_TLS_CERT_FILE: nonEmpty.optional(),
  TEMPORAL_TLS_KEY_FILE: nonEmpty.optional(),
  TEMPORAL_TLS_SERVER_NAME: nonEmpty.optional(),
  TEMPORAL_API_KEY: nonEmpty.optional(),
  TEMPORAL_PORT: port.default(7233),
  TEMPORAL_UI_PORT: port.default(8233),
  TEMPORAL_UI_URL: httpUrl.optional(),
  DATABASE_URL: postgresUrl.optional(),
  REDIS_URL: redisUrl.optional(),
  ORCHESTRATOR_DB_URL: orchestratorDbUrl.optional(),
  DATA_DIR: nonEmpty.default('.data'),
  API_HOST: nonEmpty.default('127.0.0.1'),
  API_PORT: port.default(8080),
  API_TOKENS_FILE: nonEmpty.optional(),
  OIDC_ISSUER: nonEmpty.optional(),
  OIDC_AUDIENCE: nonEmpty.optional(),
  OIDC_JWKS_URL: httpUrl.optional(),
  OIDC_PRINCIPAL_CLAIM: nonEmpty.default('sub'),
  OIDC_ROLES_CLAIM: nonEmpty.default('roles'),
  ALERT_COOLDOWN: duration.default('60s'),
  INVENTORY_FILE: nonEmpty.optional(),
  GPUAAS_ENVIRONMENT: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected an environment folder name, e.g. dev')
    .optional(),
  SSH_PRIVATE_KEY_FILE: nonEmpty.optional(),
  ORCHESTRATOR_CLUSTERS_FILE: nonEmpty.optional(),
  SSH_CONNECT_TIMEOUT: duration.default('10s'),
  SSH_COMMAND_TIMEOUT: duration.default('60s'),
  SSH_OUTPUT_LIMIT_BYTES: positiveInt.default(1024 * 1024),
  WORKER_SHUTDOWN_GRACE: duration.default('30s'),
  WORKER_MAX_CACHED_WORKFLOWS: nonNegativeInt.optional(),
  DRILL_FAULT_URL: httpUrl.optional(),
  DRILL_FAULT_TOKEN: nonEmpty.optional(),
  APPROVAL_SIGNALS: z.enum(['on', 'off']).default('on'),
  MIN_APPROVALS: minApprovals.default(''),
  ESCALATION_WEBHOOKS: escalationWebhooks.default(''),
  DISRUPTION_BUDGETS: budgets.default('{"rack":{"max":1},"pool":{"max_percent":10}}'),
  PLATFORM_API_URL: httpUrl.optional(),
  PLATFORM_API_TOKEN: nonEmpty.optional(),
  LOG_LEVEL: logLevel.default('info'),
  OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.optional(),
  LOKI_URL: httpUrl.optional(),
  TEMPO_URL: httpUrl.optional(),
  LOKI_PUSH_URL: httpUrl.optional(),
  LOKI_PUSH_INTERVAL: duration.default('1s'),
  PROMETHEUS_URL: httpUrl.optional(),
  ALERTMANAGER_URL: httpUrl.optional(),
  LAB_TIME_SCALE: positiveNumber.default(1),
  LAB_EXTRA_GPU_NODES: nonNegativeInt.default(0),
} as const;

type Vars = { [K in keyof typeof VARIABLES]: z.output<(typeof VARIABLES)[K]> };

function describeValue(name: string, raw: string): string {
  return SECRET_VARIABLES.has(name) ? '' : ` (got ${JSON.stringify(raw.length > 80 ? `${raw.slice(0, 80)}…` : raw)})`;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];
  const vars: Partial<Record<string, unknown>> = {};
  for (const [name, schema] of Object.entries(VARIABLES) as [keyof typeof VARIABLES, z.ZodTypeAny][]) {
    const raw = env[name];
    const value = raw === undefined || raw.trim() === '' ? undefined : raw.trim();
    const parsed = schema.safeParse(value);
    if (parsed.success) {
      vars[name] = parsed.data;
    } else {
      const messages = [...new Set(parsed.error.issues.map((i) => i.message))].join('; ');
      problems.push(`${name}: ${messages}${value === undefined ? '' : describeValue(name, value)}`);
    }
  }
  const v = vars as Vars;

  // Real fleet mode needs credentials and files that exist.
  if (env.INVENTORY_FILE?.trim()) {
    const need: [keyof Vars, string][] = [
      ['SSH_PRIVATE_KEY_FILE', 'the private key the engine uses to SSH into fleet hosts'],
      ['PLATFORM_API_URL', 'the platform API base URL'],
      ['PLATFORM_API_TOKEN', 'the platform API token'],
    ];
    for (const [name, what] of need) {
      if (!env[name]?.trim()) problems.push(`${name}: required when INVENTORY_FILE is set (${what})`);
    }
    for (const name of ['INVENTORY_FILE', 'SSH_PRIVATE_KEY_FILE', 'ORCHESTRATOR_CLUSTERS_FILE'] as const) {
      const file = v[name];
      if (typeof file === 'string' && !fs.existsSync(file)) problems.push(`${name}: file not found: ${file}`);
    }
  }
  // Which file an inventory folder means is asked only of an environment name that is valid.
  const environmentValid = v.GPUAAS_ENVIRONMENT !== undefined || !env.GPUAAS_ENVIRONMENT?.trim();
  const inventory =
    v.INVENTORY_FILE && fs.existsSync(v.INVENTORY_FILE) && environmentValid ? chooseInventoryFile(v.INVENTORY_FILE, v.GPUAAS_ENVIRONMENT) : undefined;
  if (inventory && 'problem' in inventory) problems.push(`${inventory.problem.variable}: ${inventory.problem.message}`);
  const oidcSet = (['OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL'] as const).filter((n) => v[n] !== undefined);
  if (oidcSet.length > 0 && oidcSet.length < 3) {
    for (const n of ['OIDC_ISSUER', 'OIDC_AUDIENCE', 'OIDC_JWKS_URL'] as const)
      if (v[n] === undefined) problems.push(`${n}: required when any OIDC_ variable is set`);
  }
  if (Boolean(v.TEMPORAL_TLS_CERT_FILE) !== Boolean(v.TEMPORAL_TLS_KEY_FILE)) {
    problems.push(`${v.TEMPORAL_TLS_CERT_FILE ? 'TEMPORAL_TLS_KEY_FILE' : 'TEMPORAL_TLS_CERT_FILE'}: mTLS needs both the client certificate and its key`);
  }
  for (const name of ['TEMPORAL_TLS_CA_FILE', 'TEMPORAL_TLS_CERT_FILE', 'TEMPORAL_TLS_KEY_FILE'] as const) {
    const file = v[name];
    if (typeof file === 'string' && !fs.existsSync(file)) problems.push(`${name}: file not found: ${file}`);
  }
  if (v.TEMPORAL_PORT !== undefined && v.TEMPORAL_PORT === v.TEMPORAL_UI_PORT) {
    problems.push(`TEMPORAL_UI_PORT: must differ from TEMPORAL_PORT (both ${v.TEMPORAL_PORT})`);
  }

  if (problems.length > 0) throw new ConfigError('Invalid configuration:', problems);

  const fleet: Config['fleet'] =
    inventory && 'file' in inventory
      ? {
          mode: 'inventory',
          inventoryFile: path.resolve(inventory.file),
          sshPrivateKeyFile: path.resolve(v.SSH_PRIVATE_KEY_FILE!),
          platformApiUrl: v.PLATFORM_API_URL!,
          platformApiToken: new Secret(v.PLATFORM_API_TOKEN!),
          orchestratorClustersFile: v.ORCHESTRATOR_CLUSTERS_FILE && path.resolve(v.ORCHESTRATOR_CLUSTERS_FILE),
        }
      : { mode: 'lab' };

  return {
    temporal: {
      address: v.TEMPORAL_ADDRESS,
      namespace: v.TEMPORAL_NAMESPACE,
      taskQueue: v.TEMPORAL_TASK_QUEUE,
      ledgerTaskQueue: v.TEMPORAL_LEDGER_TASK_QUEUE ?? v.TEMPORAL_TASK_QUEUE,
      port: v.TEMPORAL_PORT,
      uiPort: v.TEMPORAL_UI_PORT,
      uiUrl: (v.TEMPORAL_UI_URL ?? `http://localhost:${v.TEMPORAL_UI_PORT}`).replace(/\/+$/, ''),
      security: {
        tls:
          v.TEMPORAL_TLS === 'true' || v.TEMPORAL_TLS_CA_FILE || v.TEMPORAL_TLS_CERT_FILE
            ? {
                caFile: v.TEMPORAL_TLS_CA_FILE && path.resolve(v.TEMPORAL_TLS_CA_FILE),
                certFile: v.TEMPORAL_TLS_CERT_FILE && path.resolve(v.TEMPORAL_TLS_CERT_FILE),
                keyFile: v.TEMPORAL_TLS_KEY_FILE && path.resolve(v.TEMPORAL_TLS_KEY_FILE),
                serverName: v.TEMPORAL_TLS_SERVER_NAME,
              }
            : undefined,
        apiKey: v.TEMPORAL_API_KEY ? new Secret(v.TEMPORAL_API_KEY) : undefined,
      },
    },
    databaseUrl: v.DATABASE_URL,
    redisUrl: v.REDIS_URL,
    orchestratorDbUrl: v.ORCHESTRATOR_DB_URL,
    alerting: { prometheusUrl: v.PROMETHEUS_URL, alertmanagerUrl: v.ALERTMANAGER_URL },
    dataDir: path.resolve(v.DATA_DIR),
    api: { host: v.API_HOST, port: v.API_PORT },
    auth: {
      tokensFile: path.resolve(v.API_TOKENS_FILE ?? path.join(v.DATA_DIR, 'api-tokens.json')),
      oidc:
        v.OIDC_ISSUER && v.OIDC_AUDIENCE && v.OIDC_JWKS_URL
          ? {
              issuer: v.OIDC_ISSUER,
              audience: v.OIDC_AUDIENCE,
              jwksUrl: v.OIDC_JWKS_URL,
              principalClaim: v.OIDC_PRINCIPAL_CLAIM,
              rolesClaim: v.OIDC_ROLES_CLAIM,
            }
          : undefined,
    },
    alerts: { cooldownMs: v.ALERT_COOLDOWN },
    fleet,
    ssh: {
      connectTimeoutMs: v.SSH_CONNECT_TIMEOUT,
      commandTimeoutMs: v.SSH_COMMAND_TIMEOUT,
      outputLimitBytes: v.SSH_OUTPUT_LIMIT_BYTES,
    },
    worker: { shutdownGraceMs: v.WORKER_SHUTDOWN_GRACE, maxCachedWorkflows: v.WORKER_MAX_CACHED_WORKFLOWS },
    budgets: v.DISRUPTION_BUDGETS,
    approvals: { signals: v.APPROVAL_SIGNALS === 'on', minApprovals: v.MIN_APPROVALS, escalationWebhooks: v.ESCALATION_WEBHOOKS },
    drills: { faultUrl: v.DRILL_FAULT_URL, faultToken: v.DRILL_FAULT_TOKEN ? new Secret(v.DRILL_FAULT_TOKEN) : undefined },
    logLevel: v.LOG_LEVEL,
    otel: { endpoint: v.OTEL_EXPORTER_OTLP_ENDPOINT },
    observability: { lokiUrl: v.LOKI_URL, tempoUrl: v.TEMPO_URL },
    logShipping: { lokiPushUrl: v.LOKI_PUSH_URL, intervalMs: v.LOKI_PUSH_INTERVAL },
    lab: { timeScale: v.LAB_TIME_SCALE, extraGpuNodes: v.LAB_EXTRA_GPU_NODES },
  };
}

/** A copy that is safe to log: the passwords in the database and Redis URLs masked (the API token is a Secret already). */
export function redactConfig(config: Config): Config {
  const mask = (url: string | undefined): string | undefined => {
    if (!url) return url;
    try {
      const u = new URL(url);
      if (u.password) u.password = '***';
      return u.toString();
    } catch {
      return '[redacted]';
    }
  };
  return { ...config, databaseUrl: mask(config.databaseUrl), redisUrl: mask(config.redisUrl), orchestratorDbUrl: mask(config.orchestratorDbUrl) };
}

// ---------------------------------------------------------------------------------------------
// Inventory

function formatPath(p: (string | number)[], raw: unknown): string {
  if (p[0] === 'hosts' && typeof p[1] === 'number') {
    const host = (raw as { hosts?: unknown[] })?.hosts?.[p[1]] as Record<string, unknown> | undefined;
    const label =
      host && typeof host === 'object'
        ? typeof host.node_id === 'string'
          ? ` (node_id ${JSON.stringify(host.node_id)})`
          : typeof host.hostname === 'string'
            ? ` (hostname ${JSON.stringify(host.hostname)})`
            : ''
        : '';
    const rest = p.slice(2).join('.');
    return `hosts[${p[1]}]${label}${rest ? ` ${rest}` : ''}`;
  }
  return p.length > 0 ? p.join('.') : '(top level)';
}

/**
 * Reads an inventory file (.json, .yaml or .yml) and validates it. Errors name the file, the
 * host (index and node_id) and the field. An Ansible hosts.ini (.ini) is read with its
 * group_vars and host_vars into the same schema; its errors name the file and line.
 */
export function loadInventory(file: string): Inventory {
  const ext = path.extname(file).toLowerCase();
  if (ext === '.ini') return loadAnsibleInventory(file);
  if (!['.json', '.yaml', '.yml'].includes(ext)) {
    throw new ConfigError(`Invalid inventory ${file}:`, [
      `unsupported file extension ${JSON.stringify(ext)}: use .json, .yaml or .yml, or an Ansible hosts.ini`,
    ]);
  }
  return loadDataFile(file, `Invalid inventory ${file}:`, InventorySchema);
}

/** Reads ORCHESTRATOR_CLUSTERS_FILE (.json, .yaml or .yml): a list of clusters, each its replicas' APIs, Redis and SQL. */
export function loadOrchestratorClusters(file: string): OrchestratorCluster[] {
  return loadDataFile(file, `Invalid orchestrator clusters ${file}:`, OrchestratorClustersSchema);
}

function loadDataFile<T>(file: string, title: string, schema: z.ZodType<T, z.ZodTypeDef, unknown>): T {
  const ext = path.extname(file).toLowerCase();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(title, [`cannot read file: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    if (ext === '.json') raw = JSON.parse(text);
    else if (ext === '.yaml' || ext === '.yml') raw = YAML.parse(text, { prettyErrors: true });
    else throw new ConfigError(title, [`unsupported file extension ${JSON.stringify(ext)}: use .json, .yaml or .yml`]);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(title, [`not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${(err as Error).message.split('\n')[0]}`]);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${formatPath(issue.path, raw)}: ${issue.message}`);
    throw new ConfigError(title, problems);
  }
  return parsed.data;
}
