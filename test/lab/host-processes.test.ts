/**
 * The lab's hosts over real SSH and HTTP: commands take their (scaled) real time,
 * processes outlive the client, transient systemd units, refusals, and the
 * faults that act on them. The lab runs at timeScale 0.002: diag r1 120 ms,
 * r2 240 ms, r3 1.8 s, a reboot 360 ms.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import type { Client } from 'ssh2';
import {
  bootIdCommand,
  diagCommand,
  gpuTableCommand,
  kernelLogCommand,
  persistenceModeCommand,
  rebootCommand,
  resetGpuCommand,
} from '../../capabilities/gpu/commands';
import {
  outputFile,
  readOutputCommand,
  resetFailedUnitCommand,
  showUnitCommand,
  startUnitCommand,
  stopUnitCommand,
} from '../../capabilities/host/systemd-unit';
import { findHost, type InventoryHost } from '../../domain/inventory';
import { LabAdmin, type LabRecords } from '../../lab/admin-client';
import { gpuUuid } from '../../lab/gpus';
import { startLab, type RunningLab } from '../../lab/index';
import { connect, exec, http, run, sleep, waitFor, type ExecResult } from './support';

const SCALE = 0.002;
/** A real duration as the lab runs it. */
const scaled = (realMs: number) => realMs * SCALE;
/** Timers and SSH round trips on a shared 2-core machine: generous upper slack. */
const SLACK_MS = 1500;
const UNIT_DROP = 'gpuaas-run_diag-dropdropdropdropdrop';

let dataDir: string;
let lab: RunningLab;
let admin: LabAdmin;
let gpu1: InventoryHost;
let control: InventoryHost;

const sh = (host: InventoryHost, argv: string[]) => run(host, lab.clientKeyPath, quote(argv));
const api = (method: string, path: string, body?: unknown, key?: string) => http(lab.platformUrl, method, path, { body, key, token: lab.platformToken });
let keySeq = 0;
const newKey = () => `host-processes-${++keySeq}-${Date.now()}`;

/** Evicts the node's workloads so GPU work may run. */
async function drain(nodeId = 'dev-gpu-1') {
  expect((await api('POST', `/api/v1/nodes/${nodeId}/allocations/evict`, { reason: 'test' }, newKey())).status).toBe(200);
}

/** Starts a command on its own connection; the caller may drop the connection before it ends. */
async function start(host: InventoryHost, argv: string[]): Promise<{ client: Client; result: Promise<ExecResult> }> {
  const client = await connect(host, lab.clientKeyPath);
  client.on('error', () => undefined); // a dropped connection is part of some tests
  return { client, result: exec(client, quote(argv)) };
}

/** `systemctl show` as the engine asks it, as a map. */
async function show(host: InventoryHost, unit: string): Promise<Record<string, string>> {
  const r = await sh(host, showUnitCommand(unit));
  expect(r).toMatchObject({ code: 0, stderr: '' });
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

const diags = (r: LabRecords) => r.processes.filter((p) => p.command.startsWith('dcgmi diag'));
const durationOf = (p: { started_at: string; ended_at: string | null }) => Date.parse(p.ended_at ?? '') - Date.parse(p.started_at);

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'gpuaas-lab-processes-'));
  lab = await startLab({ dataDir, timeScale: SCALE, drainDelayMs: 100 });
  admin = new LabAdmin(lab.platformUrl, lab.platformToken);
  gpu1 = findHost(lab.inventory, 'dev-gpu-1')!;
  control = findHost(lab.inventory, 'dev-control-1')!;
});

afterAll(async () => {
  await lab?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

beforeEach(async () => {
  await admin.reset();
});

describe('commands take their real time, scaled', () => {
  it('a level-2 diag takes 120 s × timeScale; a level-1 diag half that', async () => {
    await drain();
    const t0 = Date.now();
    const r2 = await sh(gpu1, diagCommand(2));
    const wall = Date.now() - t0;
    expect(r2.code).toBe(0);
    expect(wall).toBeGreaterThanOrEqual(scaled(120_000));
    expect(wall).toBeLessThan(scaled(120_000) + SLACK_MS);
    await sh(gpu1, diagCommand(1));
    const [p2, p1] = diags(await admin.records('dev-gpu-1'));
    expect(durationOf(p2!)).toBeGreaterThanOrEqual(scaled(120_000) - 2);
    expect(durationOf(p1!)).toBeGreaterThanOrEqual(scaled(60_000) - 2);
    expect(durationOf(p1!)).toBeLessThan(durationOf(p2!));
  });

  it('records every process with its argv, pid, times and exit status', async () => {
    await sh(gpu1, gpuTableCommand());
    const { processes, commands } = await admin.records('dev-gpu-1');
    expect(processes).toEqual([
      {
        seq: expect.any(Number),
        node_id: 'dev-gpu-1',
        pid: expect.any(Number),
        command: gpuTableCommand().join(' '),
        unit: null,
        started_at: expect.any(String),
        ended_at: expect.any(String),
        exit_code: 0,
        killed: false,
      },
    ]);
    expect(commands).toEqual([expect.objectContaining({ command: quote(gpuTableCommand()), exit_code: 0 })]);
  });
});

describe('processes outlive the SSH channel', () => {
  it('a diag keeps running after the client drops the connection; it ends with its own exit status', async () => {
    await drain();
    await admin.failDiag('dev-gpu-1', 4);
    const { client } = await start(gpu1, diagCommand(3));
    await waitFor(async () => ((await admin.records('dev-gpu-1')).processes.length === 1 ? true : undefined), 2000, 10);
    client.end();
    await sleep(50);
    let [diag] = diags(await admin.records('dev-gpu-1'));
    expect(diag).toMatchObject({ ended_at: null, exit_code: null, killed: false });

    // Nobody listens any more, but the diag still runs to its end and fails on GPU 4.
    diag = await waitFor(
      async () => {
        const d = diags(await admin.records('dev-gpu-1'))[0];
        return d?.ended_at ? d : undefined;
      },
      scaled(900_000) + SLACK_MS * 2,
      50,
    );
    expect(diag).toMatchObject({ exit_code: 226, killed: false });
    expect(durationOf(diag)).toBeGreaterThanOrEqual(scaled(900_000) - 2);
  });

  it('a GPU reset whose client went away still resets the GPU', async () => {
    await admin.injectXid('dev-gpu-1', 3, 48);
    await drain();
    const uuid = gpuUuid('dev-gpu-1', 3);
    expect((await sh(gpu1, persistenceModeCommand(uuid, false))).code).toBe(0);
    const { client } = await start(gpu1, resetGpuCommand(uuid));
    await waitFor(async () => ((await admin.records('dev-gpu-1')).processes.length === 2 ? true : undefined), 2000, 5);
    client.end();
    await waitFor(async () => ((await admin.applied('dev-gpu-1', 'reset_gpu')) === 1 ? true : undefined), SLACK_MS, 10);
    const row = (await sh(gpu1, gpuTableCommand())).stdout.split('\n')[3]!;
    expect(row).toContain(', 0, [N/A], No, No, Disabled');
  });
});

describe('refusals', () => {
  it('a second diag while one runs exits 217 at once with DCGM_ST_DIAG_ALREADY_RUNNING', async () => {
    await drain();
    const first = await start(gpu1, diagCommand(3));
    let firstEnded = false;
    void first.result.then(() => (firstEnded = true));
    await waitFor(async () => ((await admin.records('dev-gpu-1')).processes.length === 1 ? true : undefined), 2000, 10);
    const second = await sh(gpu1, diagCommand(2));
    // "At once": the refusal came while the first diag still ran, not after waiting for it (a causal check, not a timer).
    expect(firstEnded).toBe(false);
    expect(second.code).toBe(217);
    expect(JSON.parse(second.stdout)).toEqual({
      'DCGM Diagnostic': {
        runtime_error:
          'Unable to complete diagnostic for group 0. Return: (-39) A diag instance is already running, cannot run a new diag until the current one finishes',
        version: '4.2.3',
      },
    });
    // A GPU reset is refused too while the diag has the GPUs.
    const uuid = gpuUuid('dev-gpu-1', 0);
    await sh(gpu1, persistenceModeCommand(uuid, false));
    const reset = await sh(gpu1, resetGpuCommand(uuid));
    expect(reset.code).toBe(255);
    expect(reset.stdout).toContain('GPU 00000000:18:00.0: In use by another client');

    expect((await first.result).code).toBe(0);
    first.client.end();
    const ran = diags(await admin.records('dev-gpu-1'));
    expect(ran.map((p) => p.exit_code)).toEqual([0, 217]);
    // Once the diag is over the reset goes through.
    expect((await sh(gpu1, resetGpuCommand(uuid))).code).toBe(0);
  });

  it('a stray process holding a GPU blocks its reset until the host reboots', async () => {
    await admin.injectXid('dev-gpu-1', 2, 48);
    const stray = await admin.holdGpu('dev-gpu-1', 2);
    expect(stray).toMatchObject({ gpu_index: 2, name: 'python3', pid: expect.any(Number) });
    await drain();
    const uuid = gpuUuid('dev-gpu-1', 2);
    await sh(gpu1, persistenceModeCommand(uuid, false));
    const refused = await sh(gpu1, resetGpuCommand(uuid));
    expect(refused.code).toBe(255);
    expect(refused.stdout).toContain('GPU 00000000:3A:00.0: In use by another client');
    // Other GPUs are not held.
    const other = gpuUuid('dev-gpu-1', 5);
    await sh(gpu1, persistenceModeCommand(other, false));
    expect((await sh(gpu1, resetGpuCommand(other))).code).toBe(0);

    const before = (await sh(gpu1, bootIdCommand())).stdout;
    await sh(gpu1, rebootCommand());
    await waitFor(
      async () => {
        const id = (await sh(gpu1, bootIdCommand())).stdout;
        return id && id !== before ? id : undefined;
      },
      scaled(180_000) + SLACK_MS * 2,
      50,
    );
    // nvidia-persistenced is back after the boot: turn it off again, then the reset works.
    await sh(gpu1, persistenceModeCommand(uuid, false));
    expect(await sh(gpu1, resetGpuCommand(uuid))).toMatchObject({ code: 0, stdout: 'GPU 00000000:3A:00.0 was successfully reset.\n' });
  });
});

describe('transient systemd units (the engine host-job protocol)', () => {
  const UNIT = 'gpuaas-run_diag-0123456789abcdef0123';

  it('start, already loaded, show running, cat while empty, exited, stop, not found, start again', async () => {
    await drain();
    const started = await sh(gpu1, startUnitCommand(UNIT, diagCommand(3)));
    expect(started).toEqual({ code: 0, stdout: '', stderr: '' });

    const again = await sh(gpu1, startUnitCommand(UNIT, diagCommand(3)));
    expect(again).toEqual({
      code: 1,
      stdout: '',
      stderr: `Failed to start transient service unit: Unit ${UNIT}.service was already loaded or has a fragment file.\n`,
    });

    const running = await show(gpu1, UNIT);
    expect(running).toEqual({
      LoadState: 'loaded',
      ActiveState: 'active',
      SubState: 'running',
      Result: 'success',
      ExecMainPID: expect.stringMatching(/^[1-9]\d*$/),
      ExecMainCode: '0',
      ExecMainStatus: '0',
    });
    // The output files exist, empty, from the start.
    expect(await sh(gpu1, readOutputCommand(UNIT, 'out'))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await sh(gpu1, readOutputCommand(UNIT, 'err'))).toEqual({ code: 0, stdout: '', stderr: '' });

    const exited = await waitFor(
      async () => {
        const s = await show(gpu1, UNIT);
        return s.SubState === 'exited' ? s : undefined;
      },
      scaled(900_000) + SLACK_MS,
      20,
    );
    expect(exited).toEqual({
      LoadState: 'loaded',
      ActiveState: 'active',
      SubState: 'exited',
      Result: 'success',
      ExecMainPID: running.ExecMainPID,
      ExecMainCode: '1',
      ExecMainStatus: '0',
    });
    const out = await sh(gpu1, readOutputCommand(UNIT, 'out'));
    expect(JSON.parse(out.stdout)['DCGM Diagnostic'].test_categories).toHaveLength(4);

    // reset-failed succeeds on any loaded unit but only clears a failed one: this one stays.
    expect(await sh(gpu1, resetFailedUnitCommand(UNIT))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await show(gpu1, UNIT)).SubState).toBe('exited');
    // Still loaded: the same name cannot start again until the unit is stopped.
    expect((await sh(gpu1, startUnitCommand(UNIT, diagCommand(3)))).code).toBe(1);
    expect(await sh(gpu1, stopUnitCommand(UNIT))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(await show(gpu1, UNIT)).toEqual({
      LoadState: 'not-found',
      ActiveState: 'inactive',
      SubState: 'dead',
      Result: 'success',
      ExecMainPID: '0',
      ExecMainCode: '0',
      ExecMainStatus: '0',
    });
    expect(await sh(gpu1, stopUnitCommand(UNIT))).toEqual({
      code: 5,
      stdout: '',
      stderr: `Failed to stop ${UNIT}.service: Unit ${UNIT}.service not loaded.\n`,
    });
    expect((await sh(gpu1, startUnitCommand(UNIT, diagCommand(1)))).code).toBe(0);

    const { processes } = await admin.records('dev-gpu-1');
    expect(processes.filter((p) => p.unit === `${UNIT}.service`).map((p) => p.command)).toEqual(['dcgmi diag -r 3 -j', 'dcgmi diag -r 1 -j']);
  });

  it('a failing program leaves the unit failed; stop keeps it, reset-failed clears it', async () => {
    await drain();
    await admin.failDiag('dev-gpu-1', 6);
    expect((await sh(gpu1, startUnitCommand(UNIT, diagCommand(1)))).code).toBe(0);
    const failed = await waitFor(
      async () => {
        const s = await show(gpu1, UNIT);
        return s.ActiveState === 'failed' ? s : undefined;
      },
      scaled(60_000) + SLACK_MS,
      20,
    );
    expect(failed).toMatchObject({ LoadState: 'loaded', SubState: 'failed', Result: 'exit-code', ExecMainCode: '1', ExecMainStatus: '226' });
    expect(JSON.parse((await sh(gpu1, readOutputCommand(UNIT, 'out'))).stdout).entity_groups[0].entities).toHaveLength(8);

    expect((await sh(gpu1, stopUnitCommand(UNIT))).code).toBe(0);
    expect((await show(gpu1, UNIT)).ActiveState).toBe('failed');
    expect(await sh(gpu1, resetFailedUnitCommand(UNIT))).toEqual({ code: 0, stdout: '', stderr: '' });
    expect((await show(gpu1, UNIT)).LoadState).toBe('not-found');
    expect(await sh(gpu1, resetFailedUnitCommand(UNIT))).toEqual({
      code: 1,
      stdout: '',
      stderr: `Failed to reset failed state of unit ${UNIT}.service: Unit ${UNIT}.service not loaded.\n`,
    });
    // The files stay behind after the unit is gone.
    expect((await sh(gpu1, readOutputCommand(UNIT, 'out'))).code).toBe(0);
    expect(await sh(gpu1, ['cat', '/var/tmp/nope.out'])).toEqual({ code: 1, stdout: '', stderr: 'cat: /var/tmp/nope.out: No such file or directory\n' });
  });

  it('systemctl stop kills a running job: no effect, no output, process marked killed', async () => {
    await drain();
    expect((await sh(gpu1, startUnitCommand(UNIT, diagCommand(3)))).code).toBe(0);
    await sleep(50);
    expect((await sh(gpu1, stopUnitCommand(UNIT))).code).toBe(0);
    expect((await show(gpu1, UNIT)).LoadState).toBe('not-found');
    await sleep(scaled(900_000) + 200);
    expect((await sh(gpu1, readOutputCommand(UNIT, 'out'))).stdout).toBe('');
    const [diag] = diags(await admin.records('dev-gpu-1'));
    expect(diag).toMatchObject({ unit: `${UNIT}.service`, killed: true, exit_code: null, ended_at: expect.any(String) });
  });

  it('accepts the options in any order and refuses unknown ones like systemd-run', async () => {
    const shuffled = [
      'systemd-run',
      '-p',
      `StandardError=truncate:${outputFile('x1', 'err')}`,
      '--remain-after-exit',
      `--property=StandardOutput=truncate:${outputFile('x1', 'out')}`,
      '-q',
      '--unit',
      'x1',
      'hostname',
    ];
    expect(await sh(control, shuffled)).toEqual({ code: 0, stdout: '', stderr: '' });
    await waitFor(async () => ((await show(control, 'x1')).SubState === 'exited' ? true : undefined), SLACK_MS, 10);
    expect((await sh(control, readOutputCommand('x1', 'out'))).stdout).toBe('dev-control-1\n');
    expect(await sh(control, ['systemd-run', '--unit=x2', '--detach', '--', 'hostname'])).toEqual({
      code: 1,
      stdout: '',
      stderr: "systemd-run: unrecognized option '--detach'\n",
    });
    // GPU tools exist only on GPU workers; systemd-run looks the program up first.
    expect(await sh(control, startUnitCommand('x3', diagCommand(1)))).toEqual({
      code: 1,
      stdout: '',
      stderr: 'Failed to find executable dcgmi: No such file or directory\n',
    });
    expect((await show(control, 'x3')).LoadState).toBe('not-found');
  });

  it('a reboot kills a running unit and drops every unit; /var/tmp survives', async () => {
    await drain();
    expect((await sh(gpu1, startUnitCommand('quick', gpuTableCommand()))).code).toBe(0);
    await waitFor(async () => ((await show(gpu1, 'quick')).SubState === 'exited' ? true : undefined), SLACK_MS, 10);
    expect((await sh(gpu1, startUnitCommand(UNIT, diagCommand(3)))).code).toBe(0);
    const before = (await sh(gpu1, bootIdCommand())).stdout;
    await sh(gpu1, rebootCommand());
    await waitFor(
      async () => {
        const id = (await sh(gpu1, bootIdCommand())).stdout;
        return id && id !== before ? id : undefined;
      },
      scaled(180_000) + SLACK_MS * 2,
      50,
    );

    expect((await show(gpu1, UNIT)).LoadState).toBe('not-found');
    expect((await show(gpu1, 'quick')).LoadState).toBe('not-found');
    expect((await sh(gpu1, readOutputCommand('quick', 'out'))).stdout.trim().split('\n')).toHaveLength(8);
    expect((await sh(gpu1, readOutputCommand(UNIT, 'out'))).stdout).toBe('');
    await sleep(scaled(900_000) + 200);
    const [diag] = diags(await admin.records('dev-gpu-1'));
    expect(diag).toMatchObject({ killed: true, exit_code: null });
    expect((await show(gpu1, UNIT)).LoadState).toBe('not-found');
  });
});

describe('faults', () => {
  it('diag-omit-gpu: the diag JSON leaves the GPU out entirely and passes', async () => {
    await drain();
    await admin.omitGpuFromDiag('dev-gpu-1', 5);
    await admin.failDiag('dev-gpu-1', 5);
    const r = await sh(gpu1, diagCommand(2));
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.entity_groups[0].entities.map((e: { entity_id: number }) => e.entity_id)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    const ids = json['DCGM Diagnostic'].test_categories.flatMap((c: any) => c.tests.flatMap((t: any) => t.results.map((x: any) => x.entity_id)));
    expect(ids.length).toBeGreaterThan(0);
    expect(ids).not.toContain(5);
  });

  it('drop-connection: the client loses the connection; the unit was created and the job completes', async () => {
    await drain();
    await admin.dropConnection('dev-gpu-1', 'dcgmi diag');
    const dropped = await sh(gpu1, startUnitCommand(UNIT_DROP, diagCommand(1)));
    // No exit status ever reached the client.
    expect(dropped.code).toBeNull();
    expect(dropped.stdout).toBe('');
    const done = await waitFor(
      async () => {
        const s = await show(gpu1, UNIT_DROP);
        return s.SubState === 'exited' ? s : undefined;
      },
      scaled(60_000) + SLACK_MS,
      20,
    );
    expect(done.ExecMainStatus).toBe('0');
    expect(JSON.parse((await sh(gpu1, readOutputCommand(UNIT_DROP, 'out'))).stdout).metadata.version).toBe('4.2.3');
    // count 1: the next one is answered normally.
    expect((await sh(gpu1, diagCommand(1))).code).toBe(0);

    // A plain exec: the process keeps running and applies its effect.
    await admin.dropConnection('dev-gpu-1', 'nvidia-smi -pm', 1);
    const uuid = gpuUuid('dev-gpu-1', 1);
    expect((await sh(gpu1, persistenceModeCommand(uuid, false))).code).toBeNull();
    await waitFor(async () => ((await admin.applied('dev-gpu-1', 'persistence_mode')) === 1 ? true : undefined), SLACK_MS, 10);
    expect((await sh(gpu1, gpuTableCommand())).stdout.split('\n')[1]).toMatch(/, Disabled$/);
  });

  it('kernel noise of 5 MB before and after an Xid: the engine grep finds exactly the Xid', async () => {
    const before = await admin.kernelNoise('dev-gpu-1', 5 * 1024 * 1024);
    expect(before.bytes).toBeGreaterThanOrEqual(5 * 1024 * 1024);
    const xid = await admin.injectXid('dev-gpu-1', 3, 48);
    await admin.kernelNoise('dev-gpu-1', 5 * 1024 * 1024);

    const found = await sh(gpu1, ['journalctl', '-k', '-b', '0', '-q', '--no-pager', '-o', 'short-iso-precise', '--grep=NVRM', '-n', '100']);
    expect(found).toEqual({ code: 0, stdout: `${xid.kernel_line}\n`, stderr: '' });
    expect(xid.kernel_line).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000 dev-gpu-1 kernel: NVRM: Xid \(PCI:0000:5d:00\): 48, /);
    expect((await sh(gpu1, kernelLogCommand())).stdout).toBe(`${xid.kernel_line}\n`);

    // The whole log really is >10 MB, with the Xid in the middle, every line in journal form.
    const all = await sh(gpu1, ['journalctl', '-k', '-b', '0', '-q', '--no-pager', '-o', 'short-iso-precise']);
    expect(all.code).toBe(0);
    expect(all.stdout.length).toBeGreaterThan(10 * 1024 * 1024);
    const lines = all.stdout.split('\n').slice(0, -1);
    const at = lines.indexOf(xid.kernel_line);
    expect(at).toBeGreaterThan(lines.length / 3);
    expect(at).toBeLessThan((2 * lines.length) / 3);
    const shape = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000 dev-gpu-1 kernel: \S/;
    expect(lines.every((l) => shape.test(l))).toBe(true);
    expect(lines.filter((l) => /nvrm|xid/i.test(l))).toEqual([xid.kernel_line]);
  });

  it('an Xid with a recovery action is followed by the driver Xid 154 line', async () => {
    const first = await admin.injectXid('dev-gpu-1', 3, 48, false, { recoveryAction: 'gpu_reset' });
    expect(first.kernel_lines).toHaveLength(2);
    const second = await admin.injectXid('dev-gpu-1', 3, 79, false, { recoveryAction: 'node_reboot' });
    const nvrm = (await sh(gpu1, kernelLogCommand())).stdout
      .trim()
      .split('\n')
      .map((l) => l.slice(l.indexOf(' kernel: ') + 9));
    expect(nvrm).toEqual([
      expect.stringMatching(/^NVRM: Xid \(PCI:0000:5d:00\): 48, /),
      'NVRM: Xid (PCI:0000:5d:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)',
      'NVRM: Xid (PCI:0000:5d:00): 79, GPU has fallen off the bus.',
      'NVRM: Xid (PCI:0000:5d:00): 154, GPU recovery action changed from 0x1 (GPU Reset Required) to 0x2 (Node Reboot Required)',
    ]);
    expect(second.kernel_lines[1]).toMatch(/\+0000 dev-gpu-1 kernel: NVRM: Xid \(PCI:0000:5d:00\): 154, /);
    expect(
      (
        await http(lab.platformUrl, 'POST', '/lab/v1/hosts/dev-gpu-1/faults/xid', {
          body: { gpu_index: 0, xid: 48, recovery_action: 'pray' },
          token: lab.platformToken,
        })
      ).status,
    ).toBe(400);
  });

  it('--since keeps entries at or after the given time, in both forms the engine may use', async () => {
    await admin.injectXid('dev-gpu-1', 0, 48);
    await sleep(20);
    const second = await admin.injectXid('dev-gpu-1', 1, 63);
    const ts = second.kernel_line.slice(0, 26); // 2026-11-22T10:15:30.123456
    const us = Date.parse(`${ts.slice(0, 19)}Z`) * 1000 + Number(ts.slice(20));
    const forms = [`${ts.replace('T', ' ')} UTC`, `@${Math.floor(us / 1e6)}.${String(us % 1e6).padStart(6, '0')}`];
    for (const since of forms) {
      const r = await sh(gpu1, kernelLogCommand(since));
      expect(r).toEqual({ code: 0, stdout: `${second.kernel_line}\n`, stderr: '' });
    }
    const later = `@${Math.floor((us + 1) / 1e6)}.${String((us + 1) % 1e6).padStart(6, '0')}`;
    expect(await sh(gpu1, kernelLogCommand(later))).toEqual({ code: 1, stdout: '', stderr: '' });
  });

  it('every fault is cleared by the lab reset', async () => {
    await admin.holdGpu('dev-gpu-1', 0);
    await admin.omitGpuFromDiag('dev-gpu-1', 1);
    await admin.dropConnection('dev-gpu-1', 'hostname', 5);
    await admin.kernelNoise('dev-gpu-1', 100_000);
    await admin.reset();
    const state = (await admin.hostState('dev-gpu-1')) as any;
    expect(state.stray_processes).toEqual([]);
    expect(state.gpus.some((g: any) => g.diag_omitted)).toBe(false);
    expect(state.runtime.drop_connection).toEqual([]);
    expect(state.kernel_log_lines).toBeLessThan(20);
    expect((await sh(gpu1, ['hostname'])).code).toBe(0);
  });
});

describe('platform API: RMA tickets by node and status', () => {
  it('lists open tickets of one node', async () => {
    const open = (nodeId: string, summary: string) =>
      api('POST', '/api/v1/rma-tickets', { node_id: nodeId, gpu_uuid: gpuUuid(nodeId, 0), summary, evidence: {} }, newKey());
    await open('dev-gpu-1', 'first');
    await open('dev-gpu-1', 'second');
    const labApi = await http(lab.platformUrl, 'GET', '/api/v1/rma-tickets?node_id=dev-gpu-1&status=open', { token: lab.platformToken });
    expect(labApi.status).toBe(200);
    expect(labApi.body.tickets.map((t: { summary: string }) => t.summary)).toEqual(['first', 'second']);
    expect((await http(lab.platformUrl, 'GET', '/api/v1/rma-tickets?node_id=dev-gpu-9', { token: lab.platformToken })).body).toEqual({ tickets: [] });
    expect((await http(lab.platformUrl, 'GET', '/api/v1/rma-tickets?status=closed', { token: lab.platformToken })).body).toEqual({ tickets: [] });
    expect((await http(lab.platformUrl, 'GET', '/api/v1/rma-tickets?status=bogus', { token: lab.platformToken })).status).toBe(400);
    expect((await http(lab.platformUrl, 'GET', '/api/v1/rma-tickets?node_id=dev-gpu-1')).status).toBe(401);
  });
});
