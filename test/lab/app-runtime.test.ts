/**
 * The lab's platform-app runtime (seed 001, "Slurm Reference Instance Stuck In
 * deploying") over real SSH and HTTP: every failure mode shows on the hosts as a
 * real host shows it, the real fix makes the state converge, and every change
 * the test makes is in the lab's records. The lab runs at timeScale 0.002: a
 * controller pass every 20 ms, the agent's longest backoff 60 ms, SlurmdTimeout 600 ms.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import { createSshExecutor, type SshExecutor } from '../../capabilities/host/ssh-executor';
import { findHost, type InventoryHost } from '../../domain/inventory';
import { LabAdmin, type AppRuntimeFault, type LabRecords } from '../../lab/admin-client';
import { startLab, type RunningLab } from '../../lab/index';
import { http, run, sleep, waitFor, type ExecResult } from './support';

const SCALE = 0.002;
const NODE_API = 'node-api.100-90-157-34.sslip.io';
const CERT = '/var/lib/gpuaas/node-agent/node.crt';
const KEY = '/var/lib/gpuaas/node-agent/node.key';
const ENV = '/etc/gpuaas/node-agent.env';
const AUTHORIZED_KEYS = '/home/gpuaas/.ssh/authorized_keys';
const PROJECT = 'proj-lab';

let dataDir: string;
let lab: RunningLab;
let admin: LabAdmin;
let ssh: SshExecutor;
let gpu1: InventoryHost;
let appHost: InventoryHost;
let control: InventoryHost;

const sh = (host: InventoryHost, argv: string[]): Promise<ExecResult> => run(host, lab.clientKeyPath, quote(argv));
/** Through the engine's own SSH executor, with `stdin` sent before EOF. */
const shIn = async (host: InventoryHost, argv: string[], stdin: string) => {
  const r = await ssh.exec(host, argv, { stdin });
  return { stdout: r.stdout, stderr: r.stderr, code: r.exit_code };
};
const api = <T = any>(method: string, path: string, body?: unknown, key?: string) =>
  http<T>(lab.platformUrl, method, path, { body, key, token: lab.platformToken });
let keySeq = 0;
const newKey = () => `app-runtime-${++keySeq}-${Date.now()}`;
const instancePath = (id: string) => `/api/v1/projects/${PROJECT}/app-instances/${id}`;

async function deploying(faults: AppRuntimeFault[] = []) {
  const created = await admin.createDeployingInstance({ projectId: PROJECT, faults });
  expect(created.instance.status).toBe('deploying');
  return created.instance.id;
}

async function status(id: string): Promise<string> {
  return (await api(`GET`, instancePath(id))).body.status as string;
}

async function controllerMember(id: string) {
  const members = (await api('GET', `${instancePath(id)}/members`)).body.members as { role: string; state: string; adapter_detail: Record<string, unknown> }[];
  return members.find((m) => m.role === 'controller')!;
}

async function waitRunning(id: string, timeoutMs = 5000) {
  await waitFor(async () => ((await status(id)) === 'running' ? true : undefined), timeoutMs, 20);
}

/** Resolves once `command` on `host` prints something matching `pattern` (to stdout or stderr). */
async function waitOutput(host: InventoryHost, argv: string[], pattern: RegExp, timeoutMs = 5000): Promise<ExecResult> {
  return waitFor(
    async () => {
      const r = await sh(host, argv);
      return pattern.test(r.stdout + r.stderr) ? r : undefined;
    },
    timeoutMs,
    30,
  );
}

const agentJournal = (n = 200) => sh(gpu1, ['journalctl', '-u', 'gpuaas-node-agent', '-n', String(n), '--no-pager']);

/** Applied mutations the test made, as "kind" or "kind:detail". */
function applied(r: LabRecords): string[] {
  return r.mutations.filter((m) => m.applied).map((m) => m.kind);
}

/** The whole /etc/hosts with the control-plane name mapped to the control-plane address, as a runbook writes it. */
async function hostsWithControlPlane(host: InventoryHost): Promise<string> {
  const current = (await sh(host, ['cat', '/etc/hosts'])).stdout;
  return `${current.trimEnd()}\n10.176.46.104 api.100-90-157-34.sslip.io ${NODE_API}\n`;
}

async function writeToken(token: string) {
  const env = (await sh(gpu1, ['cat', ENV])).stdout.replace(/^GPUAAS_ENROLLMENT_TOKEN=.*$/m, `GPUAAS_ENROLLMENT_TOKEN=${token}`);
  const r = await shIn(gpu1, ['install', '-m', '0600', '/dev/stdin', ENV], env);
  expect(r.code).toBe(0);
}

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gpuaas-app-runtime-'));
  lab = await startLab({ dataDir, extraGpuNodes: 1, timeScale: SCALE, rebootDelayMs: 300 });
  admin = new LabAdmin(lab.platformUrl, lab.platformToken);
  ssh = createSshExecutor({ privateKey: readFileSync(lab.clientKeyPath), connectTimeoutMs: 5000, commandTimeoutMs: 10_000, outputLimitBytes: 1 << 20 });
  gpu1 = findHost(lab.inventory, 'dev-gpu-1')!;
  appHost = findHost(lab.inventory, 'dev-lab-1')!;
  control = findHost(lab.inventory, 'dev-control-1')!;
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await admin.reset();
});

describe('a converged environment, as the hosts show it', () => {
  it('runs the node-agent on workers and the controller and slurmctld on the app_control host, in systemd formats', async () => {
    const agent = await sh(gpu1, ['systemctl', 'status', 'gpuaas-node-agent', '--no-pager']);
    expect(agent.code).toBe(0);
    expect(agent.stdout).toMatch(
      /^● gpuaas-node-agent\.service - GPUaaS node agent\n {5}Loaded: loaded \(\/etc\/systemd\/system\/gpuaas-node-agent\.service; enabled; preset: enabled\)\n/,
    );
    expect(agent.stdout).toMatch(/\n {5}Active: active \(running\) since \w{3} \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC; 4h 0min ago\n/);
    expect(agent.stdout).toMatch(/\n {3}Main PID: \d+ \(gpuaas-node-age\)\n/);
    // The last ten journal lines follow a blank line.
    expect(agent.stdout.split('\n\n')[1]!.trimEnd().split('\n')).toHaveLength(10);

    const slurmd = await sh(gpu1, ['systemctl', 'status', 'slurmd']);
    expect(slurmd.code).toBe(3);
    expect(slurmd.stdout).toMatch(/^○ slurmd\.service - Slurm node daemon\n.*; disabled; preset: enabled\)\n {5}Active: inactive \(dead\)\n/);
    expect((await sh(gpu1, ['systemctl', 'is-active', 'gpuaas-node-agent'])).stdout).toBe('active\n');
    const none = await sh(gpu1, ['systemctl', 'status', 'slurmctld']);
    expect(none).toMatchObject({ code: 4, stdout: '', stderr: 'Unit slurmctld.service could not be found.\n' });

    for (const unit of ['slurm-reference-controller', 'slurmctld']) expect((await sh(appHost, ['systemctl', 'is-active', unit])).stdout).toBe('active\n');
    expect((await sh(appHost, ['slurm-reference-controller', '--version'])).stdout).toMatch(
      /^slurm-reference-controller 1\.5\.0 \(commit \w+, go1\.22\.5, linux\/amd64\)\n$/,
    );
    expect((await sh(appHost, ['cat', '/etc/gpuaas/slurm-reference-controller.env'])).stdout).toMatch(/^CONTROLLER_BUILD=1\.5\.0$/m);
    // Platform-app control never runs on the platform_control host; Slurm's clients are not there either.
    expect(await sh(control, ['systemctl', 'status', 'slurm-reference-controller'])).toMatchObject({ code: 4 });
    expect(await sh(control, ['sinfo'])).toMatchObject({ code: 127, stderr: 'bash: sinfo: command not found\n' });
    expect(await sh(gpu1, ['kubectl', 'get', 'nodes'])).toMatchObject({ code: 127, stderr: 'bash: kubectl: command not found\n' });
  });

  it('keeps hours of routine node-agent lines in the journal, in journalctl formats', async () => {
    const long = await agentJournal();
    expect(long.code).toBe(0);
    const lines = long.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(200);
    for (const l of lines) expect(l).toMatch(/^\w{3} \d{2} \d{2}:\d{2}:\d{2} dev-gpu-1 gpuaas-node-agent\[\d+\]: level=\w+ msg="[^"]+"/);
    const iso = await sh(gpu1, ['journalctl', '-u', 'gpuaas-node-agent', '-n', '3', '--no-pager', '-o', 'short-iso']);
    for (const l of iso.stdout.trimEnd().split('\n')) expect(l).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0000 dev-gpu-1 gpuaas-node-agent\[\d+\]: /);
    expect((await sh(gpu1, ['journalctl', '-u', 'no-such-unit', '--no-pager'])).stdout).toBe('-- No entries --\n');
    // The kernel log is still journalctl.ts's.
    expect((await sh(gpu1, ['journalctl', '-k', '-n', '1', '--no-pager'])).code).toBe(0);
  });

  it('has the node-agent env file, a valid certificate, and the control-plane names mapped in /etc/hosts', async () => {
    const env = (await sh(gpu1, ['cat', ENV])).stdout;
    expect(env).toMatch(/^GPUAAS_NODE_API_URL=https:\/\/node-api\.100-90-157-34\.sslip\.io$/m);
    expect(env).toMatch(/^GPUAAS_NODE_ID=dev-gpu-1$/m);
    expect(env).toMatch(/^GPUAAS_ENROLLMENT_TOKEN=gpet_[A-Za-z0-9_-]{32}$/m);
    expect((await sh(gpu1, ['stat', '-c', '%a %U', ENV])).stdout).toBe('600 root\n');
    const end = await sh(gpu1, ['openssl', 'x509', '-enddate', '-noout', '-in', CERT]);
    expect(end.stdout).toMatch(/^notAfter=(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ \d]\d \d{2}:\d{2}:\d{2} \d{4} GMT\n$/);
    expect((await sh(gpu1, ['openssl', 'x509', '-checkend', '0', '-noout', '-in', CERT])).stdout).toBe('Certificate will not expire\n');
    const missing = await sh(gpu1, ['openssl', 'x509', '-enddate', '-noout', '-in', '/nope.crt']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^Could not open file or uri for loading certificate from \/nope\.crt\n.*\nUnable to load certificate\n$/s);
    expect(await sh(gpu1, ['getent', 'hosts', NODE_API])).toMatchObject({ code: 0, stdout: `10.176.46.104   ${NODE_API}\n` });
    // The MAAS name resolves nowhere, least of all on the app_control host.
    expect(await sh(appHost, ['getent', 'hosts', 'j27u15'])).toMatchObject({ code: 2, stdout: '', stderr: '' });
    const keys = (await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout.trimEnd().split('\n');
    expect(keys).toHaveLength(2);
    expect(keys.every((k) => k.startsWith('ssh-ed25519 AAAAC3NzaC1lZDI1NTE5'))).toBe(true);
  });

  it('answers sinfo and scontrol from slurmctld before any node joined', async () => {
    expect((await sh(appHost, ['sinfo'])).stdout).toBe('PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\ngpu*         up   infinite      0    n/a \n');
    expect(await sh(appHost, ['scontrol', 'show', 'node', 'j27u15'])).toMatchObject({ code: 1, stderr: 'Node j27u15 not found\n' });
    expect((await sh(appHost, ['scontrol', 'ping'])).stdout).toBe('Slurmctld(primary) at dev-lab-1 is UP\n');
  });
});

describe('app-instance deploy over the platform API', () => {
  it('creates an instance (idempotently), binds its allocation, bootstraps SSH trust and reaches running with a ready controller member', async () => {
    const key = newKey();
    const body = { app_slug: 'slurm-reference', name: 'slurm-a', controller_node_id: 'dev-gpu-1' };
    const created = await api('POST', `/api/v1/projects/${PROJECT}/app-instances`, body, key);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ project_id: PROJECT, app_slug: 'slurm-reference', name: 'slurm-a', status: 'deploying' });
    const replay = await api('POST', `/api/v1/projects/${PROJECT}/app-instances`, body, key);
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(created.body);
    expect((await api('POST', `/api/v1/projects/${PROJECT}/app-instances`, body)).status).toBe(400);
    const id = created.body.id as string;

    // The scheduler binds the allocation a few (scaled) seconds after the request.
    const allocation = await api('GET', `/api/v1/allocations/${created.body.controller_allocation_id}`);
    expect(allocation.body).toMatchObject({ node_id: 'dev-gpu-1', ssh_user: 'gpuaas' });
    expect(['pending', 'active']).toContain(allocation.body.state);
    await waitRunning(id);
    expect((await api('GET', `/api/v1/allocations/${created.body.controller_allocation_id}`)).body).toMatchObject({ state: 'active', bound: true });
    const member = await controllerMember(id);
    expect(member).toMatchObject({
      state: 'ready',
      adapter_detail: { host: '10.176.47.11', hostname: 'j27u15', phase: 'slurm_ready', slurmctld_state: 'up', slurmd_state: 'idle', last_error: null },
    });

    // The deploy's own bootstrap task put the managed key next to the keys that were there.
    const tasks = (await api('GET', '/api/v1/admin/nodes/dev-gpu-1/tasks')).body.tasks;
    expect(tasks).toHaveLength(1);
    expect(tasks[0]).toMatchObject({ type: 'allocation.reconcile_managed_authorized_key', state: 'completed' });
    const keys = (await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout.trimEnd().split('\n');
    expect(keys).toHaveLength(3);
    expect(keys[2]).toMatch(new RegExp(`^ssh-ed25519 \\S+ gpuaas-managed app_instance=${id}$`));

    // A new reconcile completes through the node-agent and replaces only the managed line.
    const rec = await api('POST', `${instancePath(id)}/bootstrap-ssh/reconcile`, {}, newKey());
    expect(rec.status).toBe(202);
    expect(rec.body).toMatchObject({ node_id: 'dev-gpu-1', node_task_id: expect.stringMatching(/^nt-/) });
    const done = await waitFor(async () => {
      const t = (await api('GET', `/api/v1/admin/node-tasks/${rec.body.node_task_id}`)).body;
      return t.state === 'completed' ? t : undefined;
    }, 3000);
    expect(Date.parse(done.dispatched_at)).toBeGreaterThanOrEqual(Date.parse(done.created_at));
    expect(Date.parse(done.completed_at)).toBeGreaterThanOrEqual(Date.parse(done.dispatched_at));
    expect((await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout.trimEnd().split('\n').slice(0, 2)).toEqual(keys.slice(0, 2));

    const records = await admin.records();
    expect(records.mutations.map((m) => [m.kind, m.applied])).toEqual([
      ['app_instance_create', true],
      ['app_instance_create', false],
      ['bootstrap_ssh_reconcile', true],
    ]);
  });

  it('validates creates: the app, the node role, names and caller-chosen ids', async () => {
    const create = (body: Record<string, unknown>) => api('POST', `/api/v1/projects/${PROJECT}/app-instances`, body, newKey());
    const base = { app_slug: 'slurm-reference', name: 'slurm-v', controller_node_id: 'dev-gpu-1' };
    expect((await create({ ...base, app_slug: 'ray' })).body.error.code).toBe('unsupported_app_slug');
    expect((await create({ ...base, controller_node_id: 'dev-lab-1' })).body.error.code).toBe('node_not_worker_compute');
    expect((await create({ ...base, controller_node_id: 'nope' })).status).toBe(404);
    expect((await create({ ...base, extra: 1 })).status).toBe(400);
    const chosen = await create({ ...base, id: 'ai-chosen-1' });
    expect(chosen).toMatchObject({ status: 201, body: { id: 'ai-chosen-1', status: 'deploying' } });
    expect((await create({ ...base, name: 'slurm-w', id: 'ai-chosen-1' })).status).toBe(409);
    expect((await create(base)).body.error.code).toBe('app_instance_exists');
    expect((await api('GET', '/api/v1/projects/other/app-instances/ai-chosen-1')).status).toBe(404);
    expect((await api('GET', `${instancePath('ai-chosen-1')}/members`, undefined)).body.members).toHaveLength(1);
    expect((await http(lab.platformUrl, 'GET', instancePath('ai-chosen-1'))).status).toBe(401);
  });

  it('shows a running cluster in sinfo and scontrol formats', async () => {
    const id = await deploying();
    await waitRunning(id);
    expect((await sh(appHost, ['sinfo'])).stdout).toBe('PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\ngpu*         up   infinite      1   idle j27u15\n');
    expect((await sh(appHost, ['sinfo', '-h', '-N', '-o', '%N %T %G'])).stdout).toBe('j27u15 idle gpu:h100:8(S:0-1)\n');
    const node = await sh(appHost, ['scontrol', 'show', 'node', 'j27u15']);
    expect(node.code).toBe(0);
    expect(node.stdout).toMatch(/^NodeName=j27u15 Arch=x86_64 CoresPerSocket=56 \n {3}CPUAlloc=0 CPUEfctv=224 CPUTot=224 /);
    expect(node.stdout).toMatch(/\n {3}Gres=gpu:h100:8\(S:0-1\)\n {3}NodeAddr=10\.176\.47\.11 NodeHostName=j27u15 Version=23\.11\.4\n/);
    expect(node.stdout).toMatch(/\n {3}State=IDLE ThreadsPerCore=2 /);
    expect(node.stdout.endsWith('\n\n')).toBe(true);
    expect((await sh(appHost, ['scontrol', '-o', 'show', 'node', 'j27u15'])).stdout.split('\n')).toHaveLength(2);
    expect(await sh(gpu1, ['systemctl', 'is-active', 'slurmd'])).toMatchObject({ code: 0, stdout: 'active\n' });
  });

  it('marks a node not responding, then DOWN after SlurmdTimeout, when its slurmd stops and no controller heals it', async () => {
    const id = await deploying();
    await waitRunning(id);
    expect((await sh(appHost, ['systemctl', 'stop', 'slurm-reference-controller'])).code).toBe(0);
    expect((await sh(gpu1, ['systemctl', 'stop', 'slurmd'])).code).toBe(0);
    expect((await sh(appHost, ['sinfo', '-h', '-N', '-o', '%N %t'])).stdout).toBe('j27u15 idle*\n');
    const down = await waitOutput(appHost, ['scontrol', 'show', 'node', 'j27u15'], /State=DOWN\+NOT_RESPONDING/, 3000);
    expect(down.stdout).toMatch(/\n {3}Reason=Not responding \[slurm@\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\]\n/);
    expect((await sh(appHost, ['sinfo'])).stdout).toBe('PARTITION AVAIL  TIMELIMIT  NODES  STATE NODELIST\ngpu*         up   infinite      1  down* j27u15\n');
  });
});

describe('failure mode 1: no slurm-reference-controller in the environment', () => {
  it('leaves the member reconciling with the platform naming the missing controller; the installer brings it up and the instance runs', async () => {
    const id = await deploying([{ fault: 'no_controller' }]);
    const member = await controllerMember(id);
    expect(member.state).toBe('reconciling');
    expect(member.adapter_detail.last_error).toMatch(/no slurm-reference-controller has reported/);
    const st = await sh(appHost, ['systemctl', 'status', 'slurm-reference-controller']);
    expect(st).toMatchObject({ code: 4, stderr: 'Unit slurm-reference-controller.service could not be found.\n' });
    expect(await sh(appHost, ['systemctl', 'start', 'slurm-reference-controller'])).toMatchObject({
      code: 5,
      stderr: 'Failed to start slurm-reference-controller.service: Unit slurm-reference-controller.service not found.\n',
    });
    await sleep(200);
    expect(await status(id)).toBe('deploying');

    const bad = await sh(appHost, ['/opt/gpuaas/bin/install-controller', '9.9.9']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/manifest unknown/);
    const ok = await sh(appHost, ['/opt/gpuaas/bin/install-controller', '1.5.0']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/slurm-reference-controller\.service is active\n$/);
    await waitRunning(id);
    expect((await controllerMember(id)).adapter_detail).toMatchObject({ phase: 'slurm_ready', last_error: null });
    const muts = (await admin.records('dev-lab-1')).mutations.filter((m) => m.applied);
    expect(muts.map((m) => [m.kind, m.detail?.build])).toEqual([['controller_install', '1.5.0']]);
    // The installer is the platform team's, on app_control only.
    expect(await sh(gpu1, ['/opt/gpuaas/bin/install-controller', '1.5.0'])).toMatchObject({
      code: 127,
      stderr: 'bash: /opt/gpuaas/bin/install-controller: No such file or directory\n',
    });
  });

  it('a stopped controller shows inactive and starts with systemctl start', async () => {
    const id = await deploying([{ fault: 'no_controller', mode: 'stopped' }]);
    const st = await sh(appHost, ['systemctl', 'status', 'slurm-reference-controller']);
    expect(st.code).toBe(3);
    expect(st.stdout).toMatch(/\n {5}Active: inactive \(dead\) since /);
    expect((await sh(appHost, ['systemctl', 'start', 'slurm-reference-controller'])).code).toBe(0);
    await waitRunning(id);
    expect(applied(await admin.records())).toEqual(['unit_start']);
  });

  it('keeps worker_add operations accepted while the instance is still deploying', async () => {
    const id = await deploying([{ fault: 'no_controller' }]);
    const op = await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_add', node_id: 'dev-gpu-2' }, newKey());
    expect(op.status).toBe(202);
    await sleep(200);
    expect((await api('GET', `${instancePath(id)}/member-operations`)).body.operations[0]).toMatchObject({ state: 'accepted', started_at: null });
  });
});

describe('failure mode 2: a controller build that dials connection.hostname', () => {
  it('fails SSH on the MAAS name until a build that prefers host is installed', async () => {
    const id = await deploying([{ fault: 'hostname_build' }]);
    const journal = await waitOutput(
      appHost,
      ['journalctl', '-u', 'slurm-reference-controller', '-n', '200', '--no-pager'],
      /ssh: Could not resolve hostname j27u15: Name or service not known/,
    );
    expect(journal.stdout).toMatch(/msg="slurm-reference-controller starting" build=1\.4\.0 commit=\w+ ssh_transport=connection\.hostname/);
    const member = await controllerMember(id);
    expect(member.state).toBe('reconciling');
    expect(member.adapter_detail).toMatchObject({
      host: '10.176.47.11',
      hostname: 'j27u15',
      last_error: 'ssh: Could not resolve hostname j27u15: Name or service not known',
    });
    expect((await sh(appHost, ['slurm-reference-controller', '--version'])).stdout).toMatch(/^slurm-reference-controller 1\.4\.0 /);
    expect(await sh(appHost, ['getent', 'hosts', 'j27u15'])).toMatchObject({ code: 2, stdout: '' });

    expect((await sh(appHost, ['/opt/gpuaas/bin/install-controller', '1.5.0'])).code).toBe(0);
    await waitRunning(id);
    expect((await sh(appHost, ['journalctl', '-u', 'slurm-reference-controller', '-n', '400', '--no-pager'])).stdout).toMatch(
      /build=1\.5\.0 commit=\w+ ssh_transport=connection\.host\n[\s\S]*msg="slurmctld up"[\s\S]*msg="member ready"/,
    );
    expect(applied(await admin.records())).toEqual(['controller_install']);
  });
});

describe('failure mode 3: the bound node cannot reach the node API', () => {
  it('logs no route to host and keeps bootstrap tasks queued; writing the hosts entry (from stdin) lets the agent connect and the deploy finish', async () => {
    const id = await deploying([{ fault: 'node_api_unreachable' }]);
    const journal = await waitOutput(gpu1, ['journalctl', '-u', 'gpuaas-node-agent', '-n', '200', '--no-pager'], /no route to host/);
    expect(journal.stdout).toMatch(/err="dial tcp 100\.90\.157\.34:443: connect: no route to host"/);
    // The unit is up: only the journal and the queued task tell the story.
    expect((await sh(gpu1, ['systemctl', 'is-active', 'gpuaas-node-agent'])).stdout).toBe('active\n');
    expect((await sh(gpu1, ['getent', 'hosts', NODE_API])).stdout).toBe(`100.90.157.34   ${NODE_API}\n`);
    const nc = await sh(gpu1, ['nc', '-zv', '-w', '3', NODE_API, '443']);
    expect(nc).toMatchObject({ code: 1, stderr: `nc: connect to ${NODE_API} (100.90.157.34) port 443 (tcp) failed: No route to host\n` });
    const queued = await waitFor(async () => {
      const t = (await api('GET', '/api/v1/admin/nodes/dev-gpu-1/tasks')).body.tasks;
      return t.length > 0 ? t : undefined;
    }, 3000);
    await sleep(200);
    expect((await api('GET', `/api/v1/admin/node-tasks/${queued[0].id}`)).body).toMatchObject({ state: 'queued', dispatched_at: null, completed_at: null });
    expect((await controllerMember(id)).adapter_detail.last_error).toBe('gpuaas@10.176.47.11: Permission denied (publickey).');

    const before = (await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout;
    const w = await shIn(gpu1, ['install', '-m', '0644', '/dev/stdin', '/etc/hosts'], await hostsWithControlPlane(gpu1));
    expect(w.code).toBe(0);
    expect((await sh(gpu1, ['getent', 'hosts', NODE_API])).stdout).toBe(`10.176.46.104   api.100-90-157-34.sslip.io ${NODE_API}\n`);
    expect((await sh(gpu1, ['curl', '-sS', '-o', '/dev/null', '-w', '%{http_code}\\n', `https://${NODE_API}/healthz`])).stdout).toBe('200\n');
    await waitFor(async () => ((await api('GET', `/api/v1/admin/node-tasks/${queued[0].id}`)).body.state === 'completed' ? true : undefined), 3000);
    await waitRunning(id);
    const after = (await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout;
    expect(after.startsWith(before)).toBe(true);
    expect(after.slice(before.length)).toMatch(new RegExp(`^ssh-ed25519 \\S+ gpuaas-managed app_instance=${id}\\n$`));
    expect((await agentJournal()).stdout).toMatch(/msg="connected to node-api"/);
    const muts = (await admin.records()).mutations.filter((m) => m.applied);
    expect(muts.map((m) => [m.node_id, m.kind, m.detail?.path])).toEqual([['dev-gpu-1', 'file_write', '/etc/hosts']]);
  });

  it('logs no such host when DNS has no answer', async () => {
    await deploying();
    await admin.nodeApiUnreachable('dev-gpu-1', 'no_such_host');
    await waitOutput(
      gpu1,
      ['journalctl', '-u', 'gpuaas-node-agent', '-n', '20', '--no-pager'],
      new RegExp(`dial tcp: lookup ${NODE_API.replace(/\./g, '\\.')}: no such host`),
    );
    expect(await sh(gpu1, ['getent', 'hosts', NODE_API])).toMatchObject({ code: 2, stdout: '' });
    const curl = await sh(gpu1, ['curl', '-sS', `https://${NODE_API}/healthz`]);
    expect(curl).toMatchObject({ code: 6, stderr: `curl: (6) Could not resolve host: ${NODE_API}\n` });
  });
});

describe('failure mode 4: the node-agent certificate expired', () => {
  it('stays disconnected logging the expiry; moving the cert/key aside and restarting re-enrolls with the env token', async () => {
    const id = await deploying([{ fault: 'agent_cert_expired', not_after: '2025-04-08T10:00:00Z' }]);
    expect((await sh(gpu1, ['openssl', 'x509', '-enddate', '-noout', '-in', CERT])).stdout).toBe('notAfter=Apr  8 10:00:00 2025 GMT\n');
    await waitOutput(
      gpu1,
      ['journalctl', '-u', 'gpuaas-node-agent', '-n', '50', '--no-pager'],
      /err="local certificate expired \(notAfter=Apr {2}8 10:00:00 2025 GMT\)"/,
    );
    expect((await sh(gpu1, ['systemctl', 'is-active', 'gpuaas-node-agent'])).stdout).toBe('active\n');
    await sleep(100);
    expect(await status(id)).toBe('deploying');

    expect((await sh(gpu1, ['mv', CERT, `${CERT}.expired`])).code).toBe(0);
    expect((await sh(gpu1, ['mv', KEY, `${KEY}.expired`])).code).toBe(0);
    expect(await sh(gpu1, ['mv', `${CERT}.nope`, CERT])).toMatchObject({ code: 1, stderr: `mv: cannot stat '${CERT}.nope': No such file or directory\n` });
    expect((await sh(gpu1, ['systemctl', 'restart', 'gpuaas-node-agent'])).code).toBe(0);
    await waitOutput(
      gpu1,
      ['journalctl', '-u', 'gpuaas-node-agent', '-n', '50', '--no-pager'],
      /msg="node certificate enrolled"[\s\S]*msg="connected to node-api"/,
    );
    await waitRunning(id);
    expect((await sh(gpu1, ['openssl', 'x509', '-checkend', String(360 * 86400), '-noout', '-in', CERT])).stdout).toBe('Certificate will not expire\n');
    expect((await sh(gpu1, ['stat', '-c', '%a', KEY])).stdout).toBe('600\n');
    expect(applied(await admin.records())).toEqual(['file_move', 'file_move', 'unit_restart']);
  });
});

describe('failure mode 5: a stale enrollment token', () => {
  it('crash-loops on 401 token_invalid; a minted token written from stdin and a restart enroll it, and the token is nowhere in the records', async () => {
    const id = await deploying([{ fault: 'stale_enrollment_token' }]);
    await waitOutput(gpu1, ['journalctl', '-u', 'gpuaas-node-agent', '-n', '50', '--no-pager'], /msg="enrollment failed: 401 token_invalid"/);
    const st = await waitOutput(gpu1, ['systemctl', 'status', 'gpuaas-node-agent'], /Active: activating \(auto-restart\) \(Result: exit-code\)/);
    expect(st.code).toBe(3);
    expect(st.stdout).toMatch(/\n {3}Main PID: \d+ \(code=exited, status=1\/FAILURE\)\n/);

    // Minting invalidates the previous token: only the newest one enrolls.
    const first = await api('POST', '/api/v1/admin/nodes/dev-gpu-1/enrollment-token', {}, newKey());
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ node_id: 'dev-gpu-1', token: expect.stringMatching(/^gpet_/), expires_at: expect.any(String) });
    const second = await api('POST', '/api/v1/admin/nodes/dev-gpu-1/enrollment-token', {}, newKey());
    await writeToken(first.body.token);
    await sh(gpu1, ['systemctl', 'restart', 'gpuaas-node-agent']);
    await sleep(100);
    expect(await status(id)).toBe('deploying');
    await writeToken(second.body.token);
    expect((await sh(gpu1, ['systemctl', 'restart', 'gpuaas-node-agent'])).code).toBe(0);
    await waitOutput(gpu1, ['journalctl', '-u', 'gpuaas-node-agent', '-n', '100', '--no-pager'], /msg="node certificate enrolled"/);
    await waitRunning(id);

    const records = JSON.stringify(await admin.records());
    for (const t of [first.body.token, second.body.token]) expect(records).not.toContain(t);
    expect((await agentJournal(2000)).stdout).not.toContain(second.body.token);
  });
});

describe('failure modes 3 → 4 → 5 chained, as in the incident', () => {
  it('shows each failure only once the one before it is fixed, and converges after the three fixes', async () => {
    const id = await deploying([{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'stale_enrollment_token' }]);
    /** The agent's newest warning or error line. */
    const lastFailure = () =>
      waitFor(async () => {
        const lines = (await agentJournal(40)).stdout.split('\n').filter((l) => /level=(warn|error)/.test(l));
        return lines[lines.length - 1];
      }, 3000);
    const waitLastFailure = (re: RegExp) => waitFor(async () => ((await lastFailure()).match(re) ? true : undefined), 3000, 20);

    await waitLastFailure(/no route to host/);
    // The network gates everything: the agent never got as far as its certificate.
    expect((await agentJournal()).stdout).not.toMatch(/certificate expired|token_invalid/);

    await shIn(gpu1, ['install', '-m', '0644', '/dev/stdin', '/etc/hosts'], await hostsWithControlPlane(gpu1));
    await waitLastFailure(/local certificate expired/);
    expect((await agentJournal()).stdout).not.toMatch(/token_invalid/);

    await sh(gpu1, ['mv', CERT, `${CERT}.stale`]);
    await sh(gpu1, ['mv', KEY, `${KEY}.stale`]);
    await sh(gpu1, ['systemctl', 'restart', 'gpuaas-node-agent']);
    await waitLastFailure(/enrollment failed: 401 token_invalid/);
    const queued = (await api('GET', '/api/v1/admin/nodes/dev-gpu-1/tasks?state=queued')).body.tasks;
    expect(queued.length).toBeGreaterThan(0);

    const token = (await api('POST', '/api/v1/admin/nodes/dev-gpu-1/enrollment-token', {}, newKey())).body.token as string;
    await writeToken(token);
    await sh(gpu1, ['systemctl', 'restart', 'gpuaas-node-agent']);
    await waitRunning(id);
    expect((await api('GET', '/api/v1/admin/nodes/dev-gpu-1/tasks?state=queued')).body.tasks).toEqual([]);
    expect(applied(await admin.records())).toEqual(['file_write', 'file_move', 'file_move', 'unit_restart', 'enrollment_token', 'file_write', 'unit_restart']);
  });
});

describe('failure mode 6: bootstrap reconcile with the node-agent offline', () => {
  it('keeps the node task queued while the agent is stopped and completes it once the agent runs', async () => {
    const id = await deploying();
    await waitRunning(id);
    await admin.stopNodeAgent('dev-gpu-1');
    const rec = await api('POST', `${instancePath(id)}/bootstrap-ssh/reconcile`, {}, newKey());
    expect(rec.status).toBe(202);
    await sleep(300);
    expect((await api('GET', `/api/v1/admin/node-tasks/${rec.body.node_task_id}`)).body.state).toBe('queued');
    expect((await sh(gpu1, ['systemctl', 'status', 'gpuaas-node-agent'])).code).toBe(3);
    expect((await sh(gpu1, ['systemctl', 'start', 'gpuaas-node-agent'])).code).toBe(0);
    await waitFor(async () => ((await api('GET', `/api/v1/admin/node-tasks/${rec.body.node_task_id}`)).body.state === 'completed' ? true : undefined), 3000);
    const keys = (await sh(gpu1, ['cat', AUTHORIZED_KEYS])).stdout.trimEnd().split('\n');
    expect(keys.filter((k) => k.endsWith(`app_instance=${id}`))).toHaveLength(1);
    expect(keys).toHaveLength(3);
  });
});

describe('worker_add and worker_remove member operations', () => {
  it('adds a worker: accepted → running → succeeded, slurmd registered idle with its GPUs as gres', async () => {
    const id = await deploying();
    await waitRunning(id);
    const op = await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_add', node_id: 'dev-gpu-2' }, newKey());
    expect(op.status).toBe(202);
    expect(op.body).toMatchObject({ kind: 'worker_add', node_id: 'dev-gpu-2', state: 'accepted', error: null });
    const seen = new Set<string>();
    const final = await waitFor(
      async () => {
        const o = (await api('GET', `${instancePath(id)}/member-operations`)).body.operations[0];
        seen.add(o.state);
        return o.state === 'succeeded' || o.state === 'failed' ? o : undefined;
      },
      5000,
      5,
    );
    expect(final).toMatchObject({ state: 'succeeded', error: null });
    expect(seen.has('running') || seen.has('accepted')).toBe(true);
    expect((await sh(appHost, ['sinfo', '-h', '-N', '-o', '%N %T %G'])).stdout).toBe('j27u15 idle gpu:h100:8(S:0-1)\nj27u17 idle gpu:h100:8(S:0-1)\n');
    expect((await sh(appHost, ['sinfo'])).stdout).toMatch(/\ngpu\* {9}up {3}infinite {6}2 {3}idle j27u\[15,17\]\n$/);
    expect((await sh(appHost, ['scontrol', 'show', 'node', 'j27u17'])).stdout).toMatch(/State=IDLE /);
    const worker = (await api('GET', `${instancePath(id)}/members`)).body.members.find((m: { role: string }) => m.role === 'worker');
    expect(worker).toMatchObject({
      node_id: 'dev-gpu-2',
      state: 'ready',
      adapter_detail: { host: '10.176.47.12', hostname: 'j27u17', phase: 'slurm_ready', slurmd_state: 'idle' },
    });
    expect((await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_add', node_id: 'dev-gpu-2' }, newKey())).status).toBe(409);
    expect((await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_add', node_id: 'dev-lab-1' }, newKey())).status).toBe(422);
  });

  it('fails a worker_add with the SSH error under a hostname build; worker_remove rolls it back', async () => {
    const id = await deploying();
    await waitRunning(id);
    await admin.hostnameBuild();
    const op = await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_add', node_id: 'dev-gpu-2' }, newKey());
    const failed = await waitFor(async () => {
      const o = (await api('GET', `${instancePath(id)}/member-operations`)).body.operations.find((x: { id: string }) => x.id === op.body.id);
      return o.state === 'failed' ? o : undefined;
    }, 5000);
    expect(failed.error).toBe('ssh: Could not resolve hostname j27u17: Name or service not known');
    const members = (await api('GET', `${instancePath(id)}/members`)).body.members;
    expect(members.find((m: { node_id: string }) => m.node_id === 'dev-gpu-2')).toMatchObject({ state: 'failed' });
    expect((await sh(appHost, ['sinfo', '-h', '-N', '-o', '%N'])).stdout).toBe('j27u15\n');

    const rm = await api('POST', `${instancePath(id)}/member-operations`, { kind: 'worker_remove', node_id: 'dev-gpu-2' }, newKey());
    expect(rm.status).toBe(202);
    await waitFor(async () => {
      const o = (await api('GET', `${instancePath(id)}/member-operations`)).body.operations.find((x: { id: string }) => x.id === rm.body.id);
      return o.state === 'succeeded' ? o : undefined;
    }, 5000);
    expect((await api('GET', `${instancePath(id)}/members`)).body.members.map((m: { node_id: string }) => m.node_id)).toEqual(['dev-gpu-1']);
    expect(await status(id)).toBe('running');
  });
});

describe('SSH stdin and host lifecycle', () => {
  it('install and tee read the session stdin; a file written with a secret leaves no trace of it in the records', async () => {
    const secret = 'gpet_not-a-real-token-but-secret-enough';
    const w = await shIn(gpu1, ['install', '-D', '-m', '0600', '-o', 'gpuaas', '/dev/stdin', '/home/gpuaas/.config/x.env'], `TOKEN=${secret}\n`);
    expect(w.code).toBe(0);
    expect((await sh(gpu1, ['stat', '-c', '%a %U %s', '/home/gpuaas/.config/x.env'])).stdout).toBe(`600 gpuaas ${`TOKEN=${secret}\n`.length}\n`);
    expect((await sh(gpu1, ['cat', '/home/gpuaas/.config/x.env'])).stdout).toBe(`TOKEN=${secret}\n`);
    const t = await shIn(gpu1, ['tee', '-a', '/home/gpuaas/.config/x.env'], 'MORE=1\n');
    expect(t).toMatchObject({ code: 0, stdout: 'MORE=1\n' });
    expect((await sh(gpu1, ['cat', '/home/gpuaas/.config/x.env'])).stdout).toBe(`TOKEN=${secret}\nMORE=1\n`);
    expect(await shIn(gpu1, ['install', '-m', '0600', '/dev/stdin', '/nope/x'], 'x')).toMatchObject({
      code: 1,
      stderr: "install: cannot create regular file '/nope/x': No such file or directory\n",
    });
    expect(JSON.stringify(await admin.records())).not.toContain(secret);
    // A command that does not read stdin still runs when the client sends some.
    expect((await shIn(gpu1, ['hostname'], 'ignored')).stdout).toBe('dev-gpu-1\n');
  });

  it('restarts the node-agent when its host comes back from a reboot', async () => {
    const before = (await sh(gpu1, ['systemctl', 'status', 'gpuaas-node-agent'])).stdout.match(/Main PID: (\d+)/)![1];
    const r = await ssh.exec(gpu1, ['systemctl', 'reboot'], { expectDisconnect: true });
    expect(r.disconnected || r.exit_code === 0).toBe(true);
    const st = await waitFor(
      async () => {
        const s = await sh(gpu1, ['systemctl', 'status', 'gpuaas-node-agent']);
        const pid = s.stdout.match(/Main PID: (\d+)/)?.[1];
        return s.code === 0 && pid !== before ? s : undefined;
      },
      10_000,
      100,
    );
    expect(st.stdout).toMatch(/Active: active \(running\) since /);
    // This boot's lines only, searched: the agent heartbeats every few ms at this time scale, so its connect line soon leaves the last five.
    await waitOutput(gpu1, ['journalctl', '-b', '-u', 'gpuaas-node-agent', '--grep', 'connected to node-api', '--no-pager'], /msg="connected to node-api"/);
  });

  it('the lab reset puts every fault back and forgets instances', async () => {
    await deploying([{ fault: 'node_api_unreachable' }, { fault: 'agent_cert_expired' }, { fault: 'hostname_build' }]);
    await admin.reset();
    expect((await sh(gpu1, ['getent', 'hosts', NODE_API])).stdout).toBe(`10.176.46.104   ${NODE_API}\n`);
    expect((await sh(gpu1, ['openssl', 'x509', '-checkend', '0', '-noout', '-in', CERT])).code).toBe(0);
    expect((await sh(appHost, ['slurm-reference-controller', '--version'])).stdout).toMatch(/ 1\.5\.0 /);
    const state = (await admin.appRuntimeState()) as { instances: unknown[]; nodes: { agent_connected: boolean }[] };
    expect(state.instances).toEqual([]);
    expect(state.nodes.every((n) => n.agent_connected)).toBe(true);
    expect((await api('GET', '/api/v1/admin/nodes/dev-gpu-2/tasks')).body.tasks).toEqual([]);
  });
});
