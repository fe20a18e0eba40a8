import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import { utils } from 'ssh2';
import {
  bootIdCommand,
  diagCommand,
  gpuTableCommand,
  kernelLogCommand,
  persistenceModeCommand,
  rebootCommand,
  resetGpuCommand,
} from '../../capabilities/gpu/commands';
import { loadInventory } from '../../config';
import { InventorySchema, findHost, type InventoryHost } from '../../domain/inventory';
import { LAB_ANSIBLE_ENVIRONMENT } from '../../lab/ansible-inventory';
import { startLab, type RunningLab } from '../../lab/index';
import { gpuUuid } from '../../lab/gpus';
import { connect, exec, http, run, sleep, waitFor } from './support';

const DRAIN_MS = 300;
const REBOOT_MS = 800;
/** Real durations × 0.002 (diag r2 ≈ 240 ms); the reboot uses the explicit REBOOT_MS override. */
const TIME_SCALE = 0.002;
/** The whole kernel log of the current boot (the engine's own command greps for NVRM). */
const FULL_LOG = ['journalctl', '-k', '-b', '0', '--no-pager', '-o', 'short-iso'];

let dataDir: string;
let lab: RunningLab;
let gpu1: InventoryHost;

const api = (method: string, path: string, opts: { body?: unknown; key?: string; token?: string | null } = {}) =>
  http(lab.platformUrl, method, path, { body: opts.body, key: opts.key, token: opts.token === null ? undefined : (opts.token ?? lab.platformToken) });
const admin = (method: string, path: string, body?: unknown) => http(lab.platformUrl, method, `/lab/v1${path}`, { body, token: lab.platformToken });
const sh = (host: InventoryHost, argv: string[]) => run(host, lab.clientKeyPath, quote(argv));
let keySeq = 0;
const newKey = () => `test-key-${++keySeq}-${Date.now()}`;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gpuaas-lab-'));
  lab = await startLab({ dataDir, extraGpuNodes: 1, drainDelayMs: DRAIN_MS, rebootDelayMs: REBOOT_MS, timeScale: TIME_SCALE });
  gpu1 = findHost(lab.inventory, 'dev-gpu-1')!;
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  expect((await admin('POST', '/reset')).status).toBe(200);
});

describe('inventory and keys', () => {
  it('writes a valid inventory with one SSH endpoint per host', () => {
    const onDisk = InventorySchema.parse(JSON.parse(readFileSync(lab.inventoryPath, 'utf8')));
    expect(onDisk).toEqual(lab.inventory);
    expect(lab.inventory.hosts.map((h) => [h.node_id, h.role, h.gpu_count])).toEqual([
      ['dev-control-1', 'platform_control', 0],
      ['dev-lab-1', 'app_control', 0],
      ['dev-gpu-1', 'worker_compute', 8],
      ['dev-gpu-2', 'worker_compute', 8],
    ]);
    for (const h of lab.inventory.hosts) {
      expect(h).toMatchObject({ host: '127.0.0.1', user: 'root', hostname: h.node_id });
      expect(h.host_key).toMatch(/^ssh-ed25519 AAAA[A-Za-z0-9+/=]+$/);
    }
    expect(new Set(lab.inventory.hosts.map((h) => h.port)).size).toBe(4);
    expect(new Set(lab.inventory.hosts.map((h) => h.host_key)).size).toBe(4);
    expect(lab.platformUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it("writes the same inventory in seed 002's Ansible layout, which the engine reads alike", () => {
    expect(lab.ansibleInventoryPath).toBe(join(dataDir, 'ansible', 'inventory', 'environments', LAB_ANSIBLE_ENVIRONMENT, 'hosts.ini'));
    expect(loadInventory(lab.ansibleInventoryPath)).toEqual(loadInventory(lab.inventoryPath));
    expect(loadInventory(lab.ansibleInventoryPath)).toEqual(lab.inventory);
  });

  it('keeps the client private key at <dataDir>/keys/client_ed25519 with mode 0600', () => {
    expect(lab.clientKeyPath).toBe(join(dataDir, 'keys', 'client_ed25519'));
    expect(statSync(lab.clientKeyPath).mode & 0o777).toBe(0o600);
  });

  it('keeps keys and ports across a restart of the same data dir', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gpuaas-lab-restart-'));
    try {
      const a = await startLab({ dataDir: dir });
      const first = a.inventory;
      await a.stop();
      const b = await startLab({ dataDir: dir });
      try {
        expect(b.inventory).toEqual(first);
        const host = findHost(b.inventory, 'dev-gpu-1')!;
        expect((await run(host, b.clientKeyPath, quote(bootIdCommand()))).code).toBe(0);
      } finally {
        await b.stop();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SSH', () => {
  it('pins the host key and runs exec commands as root', async () => {
    const r = await sh(gpu1, bootIdCommand());
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\n$/);
  });

  it('presents a different host key per host (a pinned key of another host fails)', async () => {
    const wrong = { ...gpu1, host_key: findHost(lab.inventory, 'dev-gpu-2')!.host_key };
    await expect(run(wrong, lab.clientKeyPath, 'hostname')).rejects.toThrow();
  });

  it('rejects another key and another user', async () => {
    const other = utils.generateKeyPairSync('ed25519').private;
    await expect(connect(gpu1, lab.clientKeyPath, { privateKey: other })).rejects.toThrow(/authentication/i);
    await expect(connect(gpu1, lab.clientKeyPath, { username: 'admin' })).rejects.toThrow(/authentication/i);
  });

  it('refuses interactive shells', async () => {
    const client = await connect(gpu1, lab.clientKeyPath);
    try {
      await expect(new Promise((resolve, reject) => client.shell((err, s) => (err ? reject(err) : resolve(s))))).rejects.toThrow();
      // The connection is still usable for exec afterwards.
      expect((await exec(client, 'hostname')).stdout).toBe('dev-gpu-1\n');
    } finally {
      client.end();
    }
  });

  it('answers the engine commands on a healthy worker', async () => {
    const table = await sh(gpu1, gpuTableCommand());
    expect(table.code).toBe(0);
    const rows = table.stdout.trim().split('\n');
    expect(rows).toHaveLength(8);
    expect(rows[0]).toBe(`0, ${gpuUuid('dev-gpu-1', 0)}, 00000000:18:00.0, NVIDIA H100 80GB HBM3, 550.90.07, 64, 71234, 81559, 0, [N/A], No, No, Enabled`);
    const log = await sh(gpu1, FULL_LOG);
    expect(log.code).toBe(0);
    expect(log.stdout).not.toContain('NVRM');
    expect(log.stdout.split('\n')[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 dev-gpu-1 kernel: Linux version/);
    // The engine greps for NVRM: on a clean host journalctl finds nothing and exits 1 (systemd >= 243).
    expect(await sh(gpu1, kernelLogCommand())).toEqual({ code: 1, stdout: '', stderr: '' });
  });

  it('refuses shell syntax with exit 2 and answers unknown commands with 127', async () => {
    expect(await run(gpu1, lab.clientKeyPath, 'cat /proc/sys/kernel/random/boot_id; reboot')).toMatchObject({ code: 2 });
    expect(await run(gpu1, lab.clientKeyPath, 'uptime')).toMatchObject({ code: 127, stderr: 'bash: uptime: command not found\n' });
  });

  it('control hosts know their boot id and hostname, not nvidia-smi', async () => {
    const control = findHost(lab.inventory, 'dev-control-1')!;
    expect((await sh(control, bootIdCommand())).code).toBe(0);
    expect(await sh(control, ['hostname'])).toMatchObject({ code: 0, stdout: 'dev-control-1\n' });
    expect(await sh(control, gpuTableCommand())).toMatchObject({ code: 127, stderr: 'bash: nvidia-smi: command not found\n' });
  });
});

describe('reboot', () => {
  it('drops connections while down and comes back with a new boot_id', async () => {
    const before = (await sh(gpu1, bootIdCommand())).stdout;
    const bystander = await connect(gpu1, lab.clientKeyPath);
    const bystanderClosed = new Promise<void>((resolve) => bystander.on('close', () => resolve()));
    bystander.on('error', () => undefined);

    const r = await sh(gpu1, rebootCommand());
    expect(r).toMatchObject({ code: 0, stdout: '', stderr: '' });
    await bystanderClosed; // open connections are closed

    await sleep(100);
    await expect(run(gpu1, lab.clientKeyPath, 'hostname')).rejects.toThrow();
    const state = (await admin('GET', '/hosts/dev-gpu-1/state')).body;
    expect(state.ssh.rebooting).toBe(true);

    const after = await waitFor(async () => (await sh(gpu1, bootIdCommand())).stdout, REBOOT_MS + 3000);
    expect(after).not.toBe(before);
    expect(after).toMatch(/^[0-9a-f-]{36}\n$/);

    const records = (await admin('GET', '/records?node_id=dev-gpu-1')).body;
    expect(records.mutations).toEqual([expect.objectContaining({ kind: 'reboot', applied: true })]);
  });

  it('clears transient faults, keeps persistent ones and re-logs them at boot', async () => {
    await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 0, xid: 79 });
    await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 3, xid: 48, persistent: true });
    expect((await sh(gpu1, gpuTableCommand())).code).toBe(15);

    await sh(gpu1, rebootCommand());
    await sleep(100);
    await waitFor(async () => (await sh(gpu1, bootIdCommand())).stdout, REBOOT_MS + 3000);

    const table = await sh(gpu1, gpuTableCommand());
    expect(table.code).toBe(0);
    const rows = table.stdout
      .trim()
      .split('\n')
      .map((l) => l.split(', '));
    expect(rows).toHaveLength(8);
    expect(rows[3]!.slice(8, 12)).toEqual(['1', '[N/A]', 'Yes', 'No']);
    const nvrm = (await sh(gpu1, FULL_LOG)).stdout.split('\n').filter((l) => l.includes('NVRM'));
    expect(nvrm).toHaveLength(1);
    expect(nvrm[0]).toContain('NVRM: Xid (PCI:0000:5d:00): 48, ');
  });
});

describe('platform API', () => {
  it('requires the bearer token', async () => {
    const r = await api('GET', '/api/v1/nodes/dev-gpu-1', { token: null });
    expect(r.status).toBe(401);
    expect(r.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1', { token: 'wrong' })).status).toBe(401);
  });

  it('keeps fault injection and the records behind the same token; nothing is injected without it', async () => {
    const before = (await admin('GET', '/hosts/dev-gpu-1/state')).body as { kernel_log_lines: number; gpus: { lost: boolean }[] };
    for (const token of [undefined, 'wrong']) {
      const injected = await http(lab.platformUrl, 'POST', '/lab/v1/hosts/dev-gpu-1/faults/xid', { body: { gpu_index: 0, xid: 79 }, token });
      expect(injected.status).toBe(401);
      expect((await http(lab.platformUrl, 'GET', '/lab/v1/records', { token })).status).toBe(401);
      expect((await http(lab.platformUrl, 'POST', '/lab/v1/reset', { body: {}, token })).status).toBe(401);
    }
    expect(lab.platformToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const after = (await admin('GET', '/hosts/dev-gpu-1/state')).body as typeof before;
    expect(after.kernel_log_lines).toBe(before.kernel_log_lines);
    expect(after.gpus[0]!.lost).toBe(false);
  });

  it('returns nodes and 404 for unknown ones', async () => {
    const r = await api('GET', '/api/v1/nodes/dev-gpu-1');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ node_id: 'dev-gpu-1', hostname: 'dev-gpu-1', schedulable: true, cordon_reason: null, updated_at: expect.any(String) });
    const missing = await api('GET', '/api/v1/nodes/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('node_not_found');
    expect((await api('GET', '/api/v1/nodes/dev-control-1')).status).toBe(404);
  });

  it('starts every worker with two running allocations', async () => {
    const r = await api('GET', '/api/v1/nodes/dev-gpu-2/allocations');
    expect(r.body.allocations).toEqual([
      { id: expect.any(String), tenant: expect.any(String), gpu_indexes: [0, 1, 2, 3], started_at: expect.any(String) },
      { id: expect.any(String), tenant: expect.any(String), gpu_indexes: [4, 5, 6, 7], started_at: expect.any(String) },
    ]);
  });

  it('requires an Idempotency-Key on every POST and validates bodies', async () => {
    const noKey = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'x' } });
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.code).toBe('missing_idempotency_key');
    const bad = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 42 }, key: newKey() });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('invalid_request');
    const badJson = await fetch(`${lab.platformUrl}/api/v1/nodes/dev-gpu-1/cordon`, {
      method: 'POST',
      headers: { authorization: `Bearer ${lab.platformToken}`, 'idempotency-key': newKey(), 'content-type': 'application/json' },
      body: '{not json',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as any).error.code).toBe('invalid_request');
    expect((await api('POST', '/api/v1/nodes/nope/cordon', { body: { reason: 'x' }, key: newKey() })).status).toBe(404);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1')).body.schedulable).toBe(true);
  });

  it('cordons, drains after drainDelayMs and replays a repeated key without applying it', async () => {
    const key = newKey();
    const t0 = Date.now();
    const first = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'xid 48 on gpu 3' }, key });
    expect(first.status).toBe(200);
    expect(first.body.node).toMatchObject({ node_id: 'dev-gpu-1', schedulable: false, cordon_reason: 'xid 48 on gpu 3' });
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations).toHaveLength(2);

    await waitFor(async () => ((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations.length === 0 ? true : undefined), 3000, 20);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DRAIN_MS - 20);

    // Uncordon, then replay the old cordon key: same answer, node stays schedulable.
    const un = await api('POST', '/api/v1/nodes/dev-gpu-1/uncordon', { body: { reason: 'healthy' }, key: newKey() });
    expect(un.body.node).toMatchObject({ schedulable: true, cordon_reason: null });
    const replay = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'xid 48 on gpu 3' }, key });
    expect(replay.status).toBe(200);
    expect(replay.body).toEqual(first.body);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1')).body.schedulable).toBe(true);

    const reused = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'something else' }, key });
    expect(reused.status).toBe(422);
    expect(reused.body.error.code).toBe('idempotency_key_reused');

    const { mutations } = (await admin('GET', '/records?node_id=dev-gpu-1')).body;
    expect(mutations.map((m: any) => [m.kind, m.applied, m.idempotency_key === key])).toEqual([
      ['cordon', true, true],
      ['uncordon', true, false],
      ['cordon', false, true],
    ]);
  });

  it('uncordon before the drain delay keeps allocations running', async () => {
    await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'x' }, key: newKey() });
    await api('POST', '/api/v1/nodes/dev-gpu-1/uncordon', { body: { reason: 'false alarm' }, key: newKey() });
    await sleep(DRAIN_MS + 150);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations).toHaveLength(2);
  });

  it('a stuck drain never finishes until evicted', async () => {
    expect((await admin('POST', '/hosts/dev-gpu-1/faults/stuck-drain', {})).status).toBe(200);
    await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'x' }, key: newKey() });
    await sleep(DRAIN_MS + 150);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations).toHaveLength(2);
    const key = newKey();
    const ev = await api('POST', '/api/v1/nodes/dev-gpu-1/allocations/evict', { body: { reason: 'drain timeout' }, key });
    expect(ev.status).toBe(200);
    expect(ev.body.evicted).toHaveLength(2);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations).toEqual([]);
    const again = await api('POST', '/api/v1/nodes/dev-gpu-1/allocations/evict', { body: { reason: 'drain timeout' }, key });
    expect(again.body).toEqual(ev.body);
  });

  it('never lands new allocations on a cordoned node', async () => {
    expect((await admin('POST', '/hosts/dev-gpu-2/allocations', { count: 2 })).status).toBe(201);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-2/allocations')).body.allocations).toHaveLength(4);
    await api('POST', '/api/v1/nodes/dev-gpu-2/cordon', { body: { reason: 'x' }, key: newKey() });
    const seeded = await admin('POST', '/hosts/dev-gpu-2/allocations', {});
    expect(seeded.status).toBe(409);
    expect(seeded.body.error.code).toBe('node_cordoned');
  });

  it('opens RMA tickets idempotently', async () => {
    const key = newKey();
    const body = { node_id: 'dev-gpu-1', gpu_uuid: gpuUuid('dev-gpu-1', 3), summary: 'row remap failure', evidence: { xid: [48] } };
    const first = await api('POST', '/api/v1/rma-tickets', { body, key });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ ticket_id: 'RMA-000001', node_id: 'dev-gpu-1', status: 'open', created_at: expect.any(String) });
    const again = await api('POST', '/api/v1/rma-tickets', { body, key });
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const second = await api('POST', '/api/v1/rma-tickets', { body, key: newKey() });
    expect(second.body.ticket_id).toBe('RMA-000002');
    expect((await api('POST', '/api/v1/rma-tickets', { body: { node_id: 'dev-gpu-1', summary: 'x' }, key: newKey() })).status).toBe(400);
  });
});

describe('fault injection and the remediation path over SSH', () => {
  it('memory Xid: drain, persistence off, reset, verify, persistence on', async () => {
    const inj = await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 3, xid: 48 });
    expect(inj.status).toBe(200);
    const uuid = gpuUuid('dev-gpu-1', 3);

    const log = await sh(gpu1, kernelLogCommand());
    expect(log.stdout).toMatch(/\+0000 dev-gpu-1 kernel: NVRM: Xid \(PCI:0000:5d:00\): 48, pid='<unknown>', name=<unknown>, /);
    expect((await sh(gpu1, gpuTableCommand())).stdout.split('\n')[3]).toContain(', 1, [N/A], Yes, No, Enabled');

    // Busy node: reset and diag refuse.
    await sh(gpu1, persistenceModeCommand(uuid, false));
    const busy = await sh(gpu1, resetGpuCommand(uuid));
    expect(busy.code).toBe(255);
    expect(busy.stdout).toContain('GPU 00000000:5D:00.0: In use by another client');
    const busyDiag = await sh(gpu1, diagCommand(2));
    expect(busyDiag.code).toBe(215);
    expect(JSON.parse(busyDiag.stdout)['DCGM Diagnostic'].runtime_error).toBeDefined();

    await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'xid 48' }, key: newKey() });
    await sleep(DRAIN_MS + 100);
    const diagBefore = await sh(gpu1, diagCommand(2));
    expect(diagBefore.code).toBe(226);

    const reset = await sh(gpu1, resetGpuCommand(uuid));
    expect(reset).toMatchObject({ code: 0, stdout: 'GPU 00000000:5D:00.0 was successfully reset.\n' });
    expect((await sh(gpu1, gpuTableCommand())).stdout.split('\n')[3]).toContain(', 0, [N/A], No, No, Disabled');
    expect((await sh(gpu1, diagCommand(2))).code).toBe(0);
    expect((await sh(gpu1, persistenceModeCommand(uuid, true))).stdout).toBe('Enabled persistence mode for GPU 00000000:5D:00.0.\nAll done.\n');

    const { commands, mutations } = (await admin('GET', '/records?node_id=dev-gpu-1')).body;
    expect(commands.every((c: any) => c.node_id === 'dev-gpu-1' && c.host_name === 'dev-gpu-1')).toBe(true);
    expect(commands.map((c: any) => c.exit_code)).toEqual([0, 0, 0, 255, 215, 226, 0, 0, 0, 0]);
    expect(commands[0].command).toBe(quote(kernelLogCommand()));
    expect(mutations.map((m: any) => [m.kind, m.applied])).toEqual([
      ['persistence_mode', true],
      ['reset_gpu', false],
      ['cordon', true],
      ['reset_gpu', true],
      ['persistence_mode', true],
    ]);
    const seqs = [...commands, ...mutations].map((r: any) => r.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it('diag-fail and persistent faults survive reset and are visible in host state', async () => {
    await admin('POST', '/hosts/dev-gpu-1/faults/diag-fail', { gpu_index: 2 });
    await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 2, xid: 48, persistent: true });
    const state = (await admin('GET', '/hosts/dev-gpu-1/state')).body;
    expect(state.gpus[2]).toMatchObject({ diag_fail: true, remapped_rows_pending: true, faults: [{ xid: 48, persistent: true }] });
    expect(state.platform.node.schedulable).toBe(true);
    expect(state.platform.allocations).toHaveLength(2);
  });

  it('validates injection bodies and hosts', async () => {
    expect((await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 9, xid: 48 })).status).toBe(400);
    expect((await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 0 })).status).toBe(400);
    expect((await admin('POST', '/hosts/nope/faults/xid', { gpu_index: 0, xid: 48 })).status).toBe(404);
    expect((await admin('POST', '/hosts/dev-control-1/faults/xid', { gpu_index: 0, xid: 48 })).status).toBe(400);
  });

  it('reset restores the healthy initial state', async () => {
    await admin('POST', '/hosts/dev-gpu-1/faults/xid', { gpu_index: 1, xid: 79, persistent: true });
    await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'x' }, key: 'reset-key' });
    await api('POST', '/api/v1/rma-tickets', { body: { node_id: 'dev-gpu-1', summary: 's', evidence: {} }, key: newKey() });
    expect((await admin('POST', '/reset')).status).toBe(200);

    expect((await sh(gpu1, gpuTableCommand())).code).toBe(0);
    expect((await sh(gpu1, FULL_LOG)).stdout).not.toContain('NVRM');
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1')).body.schedulable).toBe(true);
    expect((await api('GET', '/api/v1/nodes/dev-gpu-1/allocations')).body.allocations).toHaveLength(2);
    // Keys are forgotten: the same key applies again.
    const again = await api('POST', '/api/v1/nodes/dev-gpu-1/cordon', { body: { reason: 'x' }, key: 'reset-key' });
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    const records = (await admin('GET', '/records')).body;
    expect(records.mutations.map((m: any) => m.kind)).toEqual(['cordon']);
    expect(records.commands).toHaveLength(2);
  });
});
