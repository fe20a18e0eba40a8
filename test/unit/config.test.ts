import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import util from 'node:util';
import { ConfigError, loadConfig, loadInventory, loadOrchestratorClusters, redactConfig } from '../../config';
import { pickCluster } from '../../domain/orchestrator';

const HOST_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl lab';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-config-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** Lines of the error message that name a variable ("  NAME: ..."). */
function badVariables(err: ConfigError): string[] {
  return err.message
    .split('\n')
    .slice(1)
    .map((l) => /^\s+([A-Z_]+):/.exec(l)?.[1])
    .filter((v): v is string => v !== undefined);
}

describe('DISRUPTION_BUDGETS and TEMPORAL_LEDGER_TASK_QUEUE', () => {
  it('reads caps by label as JSON, and a ledger queue of its own', () => {
    const config = loadConfig({ DISRUPTION_BUDGETS: '{"rack":{"max":2},"partition":{"max":4,"max_percent":5}}', TEMPORAL_LEDGER_TASK_QUEUE: 'ledgers' });
    expect(config.budgets).toEqual({ rack: { max: 2 }, partition: { max: 4, max_percent: 5 } });
    expect(config.temporal.ledgerTaskQueue).toBe('ledgers');
  });

  it.each([
    ['{rack: 1}', /DISRUPTION_BUDGETS: expected JSON/],
    ['{"rack":{}}', /DISRUPTION_BUDGETS.*give max, max_percent or both/],
    ['{"rack":{"max":0}}', /DISRUPTION_BUDGETS/],
    ['{"Rack!":{"max":1}}', /DISRUPTION_BUDGETS/],
  ])('refuses %s', (raw, problem) => {
    expect(() => loadConfig({ DISRUPTION_BUDGETS: raw })).toThrow(problem);
  });
});

describe('approval settings', () => {
  it.each([
    ['MIN_APPROVALS', 'rma=0'],
    ['MIN_APPROVALS', 'coffee=2'],
    ['MIN_APPROVALS', 'rma'],
    ['ESCALATION_WEBHOOKS', 'hw-oncall=ftp://x'],
    ['APPROVAL_SIGNALS', 'maybe'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['ORCHESTRATOR_DB_URL', 'sqlite:///var/lib/orch.db'],
    ['PROMETHEUS_URL', 'prometheus:9090'],
    ['ALERTMANAGER_URL', 'ftp://alertmanager:9093'],
  ])('refuses %s=%s', (name, raw) => {
    expect(badVariables(configError(() => loadConfig({ [name]: raw })))).toEqual([name]);
  });

  it('never echoes a webhook URL (it may carry a secret)', () => {
    expect(configError(() => loadConfig({ ESCALATION_WEBHOOKS: 'oncall=ftp://hooks.example.com/T0KEN' })).message).not.toContain('T0KEN');
  });

  it('never echoes a bad REDIS_URL or ORCHESTRATOR_DB_URL (they carry passwords)', () => {
    const message = configError(() => loadConfig({ REDIS_URL: 'http://:hunter2@r:6379', ORCHESTRATOR_DB_URL: 'oracle://u:hunter3@db/x' })).message;
    expect(message).toContain('REDIS_URL');
    expect(message).toContain('ORCHESTRATOR_DB_URL');
    expect(message).not.toMatch(/hunter[23]/);
  });
});

describe('loadConfig', () => {
  it('has defaults for everything (lab mode, dev server, embedded PostgreSQL)', () => {
    const config = loadConfig({});
    expect(config).toEqual({
      temporal: {
        address: undefined,
        namespace: 'default',
        taskQueue: 'gpuaas-runbooks',
        ledgerTaskQueue: 'gpuaas-runbooks',
        port: 7233,
        uiPort: 8233,
        uiUrl: 'http://localhost:8233',
        security: {},
      },
      databaseUrl: undefined,
      alerting: {},
      dataDir: path.resolve('.data'),
      api: { host: '127.0.0.1', port: 8080 },
      auth: { tokensFile: path.resolve('.data', 'api-tokens.json'), oidc: undefined },
      fleet: { mode: 'lab' },
      ssh: { connectTimeoutMs: 10_000, commandTimeoutMs: 60_000, outputLimitBytes: 1024 * 1024 },
      worker: { shutdownGraceMs: 30_000 },
      budgets: { rack: { max: 1 }, pool: { max_percent: 10 } },
      approvals: { signals: true, minApprovals: {}, escalationWebhooks: {} },
      drills: { faultUrl: undefined },
      alerts: { cooldownMs: 60_000 },
      lab: { timeScale: 1, extraGpuNodes: 0 },
      logLevel: 'info',
      otel: { endpoint: undefined },
      observability: { lokiUrl: undefined, tempoUrl: undefined },
      logShipping: { lokiPushUrl: undefined, intervalMs: 1_000 },
    });
  });

  it('keeps the SDK workflow cache size unless WORKER_MAX_CACHED_WORKFLOWS says otherwise', () => {
    expect(loadConfig({}).worker.maxCachedWorkflows).toBeUndefined();
    expect(loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '200' }).worker).toEqual({ shutdownGraceMs: 30_000, maxCachedWorkflows: 200 });
    expect(configError(() => loadConfig({ WORKER_MAX_CACHED_WORKFLOWS: '-1' })).message).toMatch(/WORKER_MAX_CACHED_WORKFLOWS: expected 0 or more/);
  });

  it('reads every variable', () => {
    const config = loadConfig({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_NAMESPACE: 'prod',
      TEMPORAL_TASK_QUEUE: 'runbooks-eu',
      TEMPORAL_PORT: '7300',
      TEMPORAL_UI_PORT: '8300',
      DATABASE_URL: 'postgres://u:p@db:5432/runbooks',
      REDIS_URL: 'redis://:rp@redis:6379/2',
      ORCHESTRATOR_DB_URL: 'mysql://orch:op@mariadb:3306/orchestrator',
      DATA_DIR: '/var/lib/gpuaas',
      API_HOST: '0.0.0.0',
      API_PORT: '9090',
      SSH_CONNECT_TIMEOUT: '5s',
      SSH_COMMAND_TIMEOUT: '2m',
      SSH_OUTPUT_LIMIT_BYTES: '65536',
      LOG_LEVEL: 'debug',
      OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel:4318',
      LOKI_URL: 'https://loki.internal:3100',
      TEMPO_URL: 'https://tempo.internal:3200/',
      API_TOKENS_FILE: '/etc/gpuaas/tokens.json',
      OIDC_ISSUER: 'https://login.example.com/',
      OIDC_AUDIENCE: 'gpuaas-runbooks',
      OIDC_JWKS_URL: 'https://login.example.com/jwks.json',
      OIDC_ROLES_CLAIM: 'groups',
      TEMPORAL_UI_URL: 'https://temporal.example.com/',
      APPROVAL_SIGNALS: 'off',
      MIN_APPROVALS: 'rma=3, gpu-fault-remediation/force_evict=2',
      ESCALATION_WEBHOOKS: 'hw-oncall=https://hooks.example.com/escalate',
      PROMETHEUS_URL: 'http://prometheus.monitoring:9090',
      ALERTMANAGER_URL: 'http://alertmanager.monitoring:9093',
    });
    expect(config.alerting).toEqual({ prometheusUrl: 'http://prometheus.monitoring:9090', alertmanagerUrl: 'http://alertmanager.monitoring:9093' });
    expect(config.approvals).toEqual({
      signals: false,
      minApprovals: { rma: 3, 'gpu-fault-remediation/force_evict': 2 },
      escalationWebhooks: { 'hw-oncall': 'https://hooks.example.com/escalate' },
    });
    expect(config.temporal).toEqual({
      address: 'temporal.internal:7233',
      namespace: 'prod',
      taskQueue: 'runbooks-eu',
      ledgerTaskQueue: 'runbooks-eu',
      port: 7300,
      uiPort: 8300,
      uiUrl: 'https://temporal.example.com',
      security: {},
    });
    expect(config.databaseUrl).toBe('postgres://u:p@db:5432/runbooks');
    expect(config.dataDir).toBe('/var/lib/gpuaas');
    expect(config.api).toEqual({ host: '0.0.0.0', port: 9090 });
    expect(config.ssh).toEqual({ connectTimeoutMs: 5000, commandTimeoutMs: 120_000, outputLimitBytes: 65536 });
    expect(config.logLevel).toBe('debug');
    expect(config.otel.endpoint).toBe('http://otel:4318');
    expect(config.observability).toEqual({ lokiUrl: 'https://loki.internal:3100', tempoUrl: 'https://tempo.internal:3200/' });
    expect(redactConfig(config).databaseUrl).toBe('postgres://u:***@db:5432/runbooks');
    expect(config.redisUrl).toBe('redis://:rp@redis:6379/2');
    expect(config.orchestratorDbUrl).toBe('mysql://orch:op@mariadb:3306/orchestrator');
    expect(redactConfig(config).redisUrl).toBe('redis://:***@redis:6379/2');
    expect(redactConfig(config).orchestratorDbUrl).toBe('mysql://orch:***@mariadb:3306/orchestrator');
    expect(config.auth).toEqual({
      tokensFile: '/etc/gpuaas/tokens.json',
      oidc: {
        issuer: 'https://login.example.com/',
        audience: 'gpuaas-runbooks',
        jwksUrl: 'https://login.example.com/jwks.json',
        principalClaim: 'sub',
        rolesClaim: 'groups',
      },
    });
  });

  it('reads the Temporal TLS files and API key; mTLS needs the certificate and its key, and the files must exist', () => {
    const ca = write('ca.pem', 'x');
    const cert = write('engine.pem', 'x');
    const key = write('engine.key', 'x');
    const config = loadConfig({ TEMPORAL_TLS_CA_FILE: ca, TEMPORAL_TLS_CERT_FILE: cert, TEMPORAL_TLS_KEY_FILE: key, TEMPORAL_API_KEY: 'k-1' });
    expect(config.temporal.security.tls).toEqual({ caFile: ca, certFile: cert, keyFile: key, serverName: undefined });
    expect(config.temporal.security.apiKey?.reveal()).toBe('k-1');
    expect(JSON.stringify(config)).not.toContain('k-1');
    expect(loadConfig({ TEMPORAL_TLS: 'true' }).temporal.security.tls).toEqual({});
    expect(badVariables(configError(() => loadConfig({ TEMPORAL_TLS_CERT_FILE: cert })))).toEqual(['TEMPORAL_TLS_KEY_FILE']);
    expect(badVariables(configError(() => loadConfig({ TEMPORAL_TLS_CA_FILE: '/nonexistent/ca.pem' })))).toEqual(['TEMPORAL_TLS_CA_FILE']);
  });

  it('needs all three OIDC variables or none', () => {
    const err = configError(() => loadConfig({ OIDC_ISSUER: 'https://login.example.com/' }));
    expect(badVariables(err).sort()).toEqual(['OIDC_AUDIENCE', 'OIDC_JWKS_URL']);
  });

  it('treats empty variables as unset', () => {
    const config = loadConfig({ TEMPORAL_ADDRESS: '', API_PORT: ' ', INVENTORY_FILE: '' });
    expect(config.temporal.address).toBeUndefined();
    expect(config.api.port).toBe(8080);
    expect(config.fleet.mode).toBe('lab');
  });

  it('leaves LOKI_URL and TEMPO_URL unset by default (the lab serves both; a real fleet names its own)', () => {
    expect(loadConfig({}).observability).toEqual({ lokiUrl: undefined, tempoUrl: undefined });
  });

  it('ships no log line to Loki unless LOKI_PUSH_URL is set; batches every LOKI_PUSH_INTERVAL', () => {
    expect(loadConfig({}).logShipping).toEqual({ lokiPushUrl: undefined, intervalMs: 1_000 });
    expect(loadConfig({ LOKI_PUSH_URL: 'http://loki:3100', LOKI_PUSH_INTERVAL: '250ms' }).logShipping).toEqual({
      lokiPushUrl: 'http://loki:3100',
      intervalMs: 250,
    });
  });

  describe('real fleet mode (INVENTORY_FILE)', () => {
    it('requires the SSH key, platform API URL and token', () => {
      const inventory = write('inv-required.json', '{"hosts": []}');
      const err = configError(() => loadConfig({ INVENTORY_FILE: inventory }));
      expect(badVariables(err).sort()).toEqual(['PLATFORM_API_TOKEN', 'PLATFORM_API_URL', 'SSH_PRIVATE_KEY_FILE']);
      expect(err.message).toContain('SSH_PRIVATE_KEY_FILE: required when INVENTORY_FILE is set');
    });

    it('checks that the files exist', () => {
      const err = configError(() =>
        loadConfig({
          INVENTORY_FILE: path.join(dir, 'missing.yaml'),
          SSH_PRIVATE_KEY_FILE: path.join(dir, 'missing_key'),
          PLATFORM_API_URL: 'https://platform.example.com',
          PLATFORM_API_TOKEN: 'tok',
        }),
      );
      expect(badVariables(err).sort()).toEqual(['INVENTORY_FILE', 'SSH_PRIVATE_KEY_FILE']);
      expect(err.message).toContain('file not found');
    });

    it('builds the fleet config and never prints the token', () => {
      const inventory = write('inv-ok.yaml', 'hosts: []\n');
      const key = write('id_ed25519', 'not really a key');
      const config = loadConfig({
        INVENTORY_FILE: inventory,
        SSH_PRIVATE_KEY_FILE: key,
        PLATFORM_API_URL: 'https://platform.example.com/api',
        PLATFORM_API_TOKEN: 'super-secret-token',
      });
      expect(config.fleet.mode).toBe('inventory');
      if (config.fleet.mode !== 'inventory') throw new Error('unreachable');
      expect(config.fleet.inventoryFile).toBe(inventory);
      expect(config.fleet.sshPrivateKeyFile).toBe(key);
      expect(config.fleet.platformApiUrl).toBe('https://platform.example.com/api');
      expect(config.fleet.platformApiToken.reveal()).toBe('super-secret-token');
      for (const printed of [JSON.stringify(config), util.inspect(config, { depth: 10 }), `${config.fleet.platformApiToken}`]) {
        expect(printed).not.toContain('super-secret-token');
      }
    });
  });

  describe('an Ansible inventory (INVENTORY_FILE and GPUAAS_ENVIRONMENT)', () => {
    let inventoryRoot: string;
    let fleet: Record<string, string>;
    beforeAll(() => {
      inventoryRoot = path.join(dir, 'infra', 'ansible', 'inventory');
      for (const env of ['dev', 'staging']) {
        fs.mkdirSync(path.join(inventoryRoot, 'environments', env), { recursive: true });
        fs.writeFileSync(path.join(inventoryRoot, 'environments', env, 'hosts.ini'), '[worker_compute]\n');
      }
      fleet = { SSH_PRIVATE_KEY_FILE: write('ansible_key', 'x'), PLATFORM_API_URL: 'https://platform.example.com', PLATFORM_API_TOKEN: 'tok' };
    });
    const hostsIni = (env: string) => path.join(inventoryRoot, 'environments', env, 'hosts.ini');
    const inventoryFile = (env: Record<string, string>) => {
      const config = loadConfig({ ...fleet, ...env });
      return config.fleet.mode === 'inventory' ? config.fleet.inventoryFile : undefined;
    };

    it("picks environments/<GPUAAS_ENVIRONMENT>/hosts.ini from the inventory root or the environments folder, as the seed's commands do", () => {
      expect(inventoryFile({ INVENTORY_FILE: inventoryRoot, GPUAAS_ENVIRONMENT: 'dev' })).toBe(hostsIni('dev'));
      expect(inventoryFile({ INVENTORY_FILE: path.join(inventoryRoot, 'environments'), GPUAAS_ENVIRONMENT: 'staging' })).toBe(hostsIni('staging'));
      expect(inventoryFile({ INVENTORY_FILE: hostsIni('dev'), GPUAAS_ENVIRONMENT: 'dev' })).toBe(hostsIni('dev'));
      expect(inventoryFile({ INVENTORY_FILE: hostsIni('dev') })).toBe(hostsIni('dev'));
      expect(inventoryFile({ INVENTORY_FILE: path.join(inventoryRoot, 'environments', 'staging') })).toBe(hostsIni('staging'));
    });

    it('refuses a folder without GPUAAS_ENVIRONMENT, an environment that is not there, and one that disagrees with the hosts.ini named', () => {
      const problem = (env: Record<string, string>) => configError(() => loadConfig({ ...fleet, ...env })).problems;
      expect(problem({ INVENTORY_FILE: inventoryRoot })).toEqual([
        `GPUAAS_ENVIRONMENT: required when INVENTORY_FILE is an inventory folder (${inventoryRoot} has dev, staging)`,
      ]);
      expect(problem({ INVENTORY_FILE: inventoryRoot, GPUAAS_ENVIRONMENT: 'prod' })).toEqual([
        `GPUAAS_ENVIRONMENT: no environment prod in ${path.join(inventoryRoot, 'environments')} (there: dev, staging)`,
      ]);
      expect(problem({ INVENTORY_FILE: hostsIni('dev'), GPUAAS_ENVIRONMENT: 'staging' })).toEqual([
        `GPUAAS_ENVIRONMENT: staging, but INVENTORY_FILE is environment dev's ${hostsIni('dev')}`,
      ]);
      expect(problem({ INVENTORY_FILE: inventoryRoot, GPUAAS_ENVIRONMENT: '../dev' })).toEqual([
        'GPUAAS_ENVIRONMENT: expected an environment folder name, e.g. dev (got "../dev")',
      ]);
      expect(problem({ INVENTORY_FILE: path.join(inventoryRoot, '..') })).toEqual([
        expect.stringMatching(/^INVENTORY_FILE: no hosts\.ini in .* expected a JSON or YAML inventory, an Ansible hosts\.ini or an inventory folder$/),
      ]);
    });

    it('leaves a JSON or YAML inventory as it is whatever GPUAAS_ENVIRONMENT says', () => {
      const json = write('inv-env.json', '{"hosts": []}');
      expect(inventoryFile({ INVENTORY_FILE: json, GPUAAS_ENVIRONMENT: 'prod' })).toBe(json);
    });
  });

  it('reports every bad variable in one error, one per line, without secrets', () => {
    const err = configError(() =>
      loadConfig({
        TEMPORAL_ADDRESS: 'no-port-here',
        TEMPORAL_PORT: '70000',
        API_PORT: 'eighty',
        SSH_CONNECT_TIMEOUT: 'soon',
        SSH_COMMAND_TIMEOUT: '-5s',
        SSH_OUTPUT_LIMIT_BYTES: '0',
        LOG_LEVEL: 'loud',
        DATABASE_URL: 'mysql://root:hunter2@db/x',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'not a url',
        PLATFORM_API_URL: 'ftp://platform',
        LOKI_URL: 'loki:3100',
        LOKI_PUSH_URL: 'loki:3100',
      }),
    );
    expect(badVariables(err).sort()).toEqual(
      [
        'API_PORT',
        'DATABASE_URL',
        'LOG_LEVEL',
        'LOKI_PUSH_URL',
        'LOKI_URL',
        'OTEL_EXPORTER_OTLP_ENDPOINT',
        'PLATFORM_API_URL',
        'SSH_COMMAND_TIMEOUT',
        'SSH_CONNECT_TIMEOUT',
        'SSH_OUTPUT_LIMIT_BYTES',
        'TEMPORAL_ADDRESS',
        'TEMPORAL_PORT',
      ].sort(),
    );
    expect(err.problems).toHaveLength(12);
    expect(err.message.split('\n')[0]).toBe('Invalid configuration:');
    expect(err.message).toContain('API_PORT: expected a port number (got "eighty")');
    expect(err.message).not.toContain('hunter2');
  });

  it('rejects the same port for the dev server frontend and UI', () => {
    const err = configError(() => loadConfig({ TEMPORAL_PORT: '7233', TEMPORAL_UI_PORT: '7233' }));
    expect(badVariables(err)).toEqual(['TEMPORAL_UI_PORT']);
  });
});

describe('loadInventory', () => {
  const host = (overrides: Record<string, unknown> = {}) => ({
    node_id: 'gpu-01',
    hostname: 'gpu-01.lab',
    role: 'worker_compute',
    host: '127.0.0.1',
    port: 2201,
    host_key: HOST_KEY,
    gpu_count: 8,
    ...overrides,
  });

  it('reads JSON and applies defaults', () => {
    const { port: _port, ...noPort } = host();
    const file = write('inventory.json', JSON.stringify({ hosts: [noPort] }));
    expect(loadInventory(file)).toEqual({ hosts: [{ ...noPort, port: 22, user: 'root', labels: {}, drillable: false }] });
  });

  it('reads YAML (.yaml and .yml)', () => {
    const text = `hosts:\n  - node_id: cp-01\n    hostname: cp-01.lab\n    role: platform_control\n    host: 10.0.0.1\n    host_key: ${HOST_KEY}\n`;
    for (const name of ['inventory.yaml', 'inventory.yml']) {
      const inv = loadInventory(write(name, text));
      expect(inv.hosts[0]).toMatchObject({ node_id: 'cp-01', role: 'platform_control', port: 22, user: 'root', gpu_count: 0 });
    }
  });

  it('names the host and field that are wrong (JSON)', () => {
    const file = write('bad.json', JSON.stringify({ hosts: [host(), host({ node_id: 'gpu-02', role: 'gpu', host_key: 'not-a-key' })] }));
    const err = configError(() => loadInventory(file));
    expect(err.message.split('\n')[0]).toBe(`Invalid inventory ${file}:`);
    expect(err.message).toMatch(/hosts\[1\] \(node_id "gpu-02"\) role: /);
    expect(err.message).toMatch(/hosts\[1\] \(node_id "gpu-02"\) host_key: expected an OpenSSH public key line/);
    expect(err.problems).toHaveLength(2);

    const dup = write('dup.json', JSON.stringify({ hosts: [host(), host({ hostname: 'other' })] }));
    expect(configError(() => loadInventory(dup)).message).toMatch(/hosts\[1\] \(node_id "gpu-01"\) node_id: duplicate node_id gpu-01/);
  });

  it('names the host and field that are wrong (YAML), including unknown fields', () => {
    const file = write(
      'bad.yaml',
      `hosts:\n  - node_id: gpu-07\n    hostname: gpu-07.lab\n    role: worker_compute\n    host: 10.0.0.7\n    port: 99999\n    host_key: ${HOST_KEY}\n    gpus: 8\n`,
    );
    const err = configError(() => loadInventory(file));
    expect(err.message).toMatch(/hosts\[0\] \(node_id "gpu-07"\) port: /);
    expect(err.message).toMatch(/hosts\[0\] \(node_id "gpu-07"\): Unrecognized key\(s\) in object: 'gpus'/);
  });

  it('reports syntax errors and unsupported files', () => {
    expect(configError(() => loadInventory(write('broken.json', '{"hosts": [')))).toHaveProperty('message', expect.stringMatching(/not valid JSON/));
    expect(configError(() => loadInventory(write('broken.yaml', 'hosts: [\n  - a: b\n  c')))).toHaveProperty(
      'message',
      expect.stringMatching(/not valid YAML/),
    );
    expect(configError(() => loadInventory(write('inventory.toml', 'x = 1')))).toHaveProperty(
      'message',
      expect.stringMatching(/unsupported file extension ".toml": use .json, .yaml or .yml, or an Ansible hosts.ini/),
    );
    expect(configError(() => loadInventory(path.join(dir, 'nope.json')))).toHaveProperty('message', expect.stringMatching(/cannot read file/));
    expect(configError(() => loadInventory(write('empty.json', '{"hosts": []}')))).toHaveProperty(
      'message',
      expect.stringMatching(/hosts: Array must contain at least 1/),
    );
  });
});

describe('loadOrchestratorClusters', () => {
  const cluster = (name: string) => ({
    name,
    replicas: [{ node_id: 'ctl-1', api_url: 'http://10.0.0.1:8008' }],
    redis_url: 'redis://:secret@10.0.0.5:6379/0',
    db_url: 'mysql://orch:secret@10.0.0.6:3306/orchestrator',
  });

  it('reads clusters from YAML, filling the lock name, and picks by name or the only one', () => {
    const file = write(
      'clusters.yaml',
      `- name: prod-a\n  replicas: [{node_id: ctl-1, api_url: "http://10.0.0.1:8008"}]\n  redis_url: redis://10.0.0.5:6379\n  db_url: postgres://orch@10.0.0.6/orch\n`,
    );
    const clusters = loadOrchestratorClusters(file);
    expect(clusters).toEqual([expect.objectContaining({ name: 'prod-a', lock_name: 'gpu_orchestrator_leader' })]);
    expect(pickCluster(clusters, undefined).name).toBe('prod-a');
    expect(() => pickCluster(clusters, 'prod-b')).toThrow('no orchestrator cluster prod-b (configured: prod-a)');
  });

  it('refuses duplicate names, bad URLs and asks for a name when several are configured', () => {
    const dup = write('dup.json', JSON.stringify([cluster('a'), cluster('a')]));
    expect(configError(() => loadOrchestratorClusters(dup)).message).toMatch(/cluster names must be unique/);
    const bad = write('bad.json', JSON.stringify([{ ...cluster('a'), db_url: 'sqlite:///x' }]));
    expect(configError(() => loadOrchestratorClusters(bad)).message).toMatch(/db_url: expected mysql:\/\/ or postgres:\/\//);
    expect(() =>
      pickCluster(
        [cluster('a'), cluster('b')].map((c) => ({ ...c, lock_name: 'x' })),
        undefined,
      ),
    ).toThrow(/2 configured \(a, b\): name one/);
  });
});
