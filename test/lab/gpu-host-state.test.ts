import {
  GPU_QUERY_FIELDS,
  gpuTableCommand,
  kernelLogCommand,
  persistenceModeCommand,
  resetGpuCommand,
  diagCommand,
  bootIdCommand,
  rebootCommand,
} from '../../capabilities/gpu/commands';
import { quote } from 'shell-quote';
import type { CommandContext } from '../../lab/command-types';
import { SimHostState } from '../../lab/gpu-host-state';
import { gpuUuid } from '../../lab/gpus';
import { execOnHost, planCommand } from '../../lab/host-commands';
import { parseTimestamp } from '../../lab/journalctl';
import { KernelJournal } from '../../lab/kernel-log';
import { styledJson } from '../../lab/styled-json';
import { formatShow, notFoundUnit, parseSystemctl, parseSystemdRun } from '../../lab/systemd';

const T0 = new Date('2026-11-22T10:15:30Z');
/** The whole kernel log of the current boot (the engine's own command greps for NVRM). */
const FULL_LOG = ['journalctl', '-k', '-b', '0', '--no-pager', '-o', 'short-iso'];
const idle: CommandContext = { now: T0, allocatedGpus: [], allocationsRunning: false, diagRunning: false, gpusInUse: [], gpuProcesses: [] };
const busy: CommandContext = { ...idle, allocatedGpus: [0, 1, 2, 3, 4, 5, 6, 7], allocationsRunning: true };

const worker = () => new SimHostState('dev-gpu-1', 'dev-gpu-1', 'worker_compute', T0);
const sh = (state: SimHostState, argv: string[], ctx: CommandContext = idle) => execOnHost(state, quote(argv), ctx);
const table = (state: SimHostState, ctx: CommandContext = idle) => {
  const r = sh(state, gpuTableCommand(), ctx);
  return {
    ...r,
    rows: r.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split(', ')),
  };
};
const FIELD = (name: (typeof GPU_QUERY_FIELDS)[number]) => GPU_QUERY_FIELDS.indexOf(name);
const diag = (state: SimHostState, level: number, ctx: CommandContext = idle) => {
  const r = sh(state, diagCommand(level), ctx);
  return { ...r, json: JSON.parse(r.stdout) };
};
const disablePm = (state: SimHostState, index: number) => sh(state, persistenceModeCommand(state.gpus[index]!.uuid, false));
const resetGpu = (state: SimHostState, index: number, ctx: CommandContext = idle) => sh(state, resetGpuCommand(state.gpus[index]!.uuid), ctx);

describe('nvidia-smi --query-gpu', () => {
  it('prints one CSV row per GPU in the requested field order', () => {
    const s = worker();
    const r = table(s);
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.rows).toHaveLength(8);
    expect(r.stdout.split('\n')[0]).toBe(`0, ${s.gpus[0]!.uuid}, 00000000:18:00.0, NVIDIA H100 80GB HBM3, 550.90.07, 33, 0, 81559, 0, [N/A], No, No, Enabled`);
    expect(r.rows.map((row) => row[FIELD('pci.bus_id')])).toEqual([
      '00000000:18:00.0',
      '00000000:2A:00.0',
      '00000000:3A:00.0',
      '00000000:5D:00.0',
      '00000000:9A:00.0',
      '00000000:AB:00.0',
      '00000000:BA:00.0',
      '00000000:DB:00.0',
    ]);
    for (const row of r.rows) expect(row).toHaveLength(GPU_QUERY_FIELDS.length);
  });

  it('has stable, node-specific UUIDs', () => {
    expect(worker().gpus.map((g) => g.uuid)).toEqual(worker().gpus.map((g) => g.uuid));
    expect(gpuUuid('dev-gpu-1', 0)).not.toBe(gpuUuid('dev-gpu-2', 0));
    expect(gpuUuid('dev-gpu-1', 0)).toMatch(/^GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  it('shows load on allocated GPUs', () => {
    const r = table(worker(), { ...idle, allocatedGpus: [2], allocationsRunning: true });
    expect(Number(r.rows[2]![FIELD('memory.used')])).toBeGreaterThan(0);
    expect(r.rows[3]![FIELD('memory.used')]).toBe('0');
  });

  it('prints a header and units without noheader/nounits', () => {
    const r = sh(worker(), ['nvidia-smi', '--query-gpu=index,memory.used,temperature.gpu', '--format=csv']);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual(['index, memory.used [MiB], temperature.gpu', '0, 0 MiB, 33']);
  });

  it('rejects an unknown field with exit 2', () => {
    const r = sh(worker(), ['nvidia-smi', '--query-gpu=index,bogus.field', '--format=csv,noheader,nounits']);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain('Field "bogus.field" is not a valid field to query.');
    expect(r.stdout).toBe('');
  });

  it.each([48, 63, 64, 94, 95, 171])('memory Xid %i sets volatile ECC and a pending remap on that GPU only', (xid) => {
    const s = worker();
    s.injectXid(3, xid, false, T0);
    const r = table(s);
    expect(r.rows[3]![FIELD('ecc.errors.uncorrected.volatile.total')]).toBe('1');
    expect(r.rows[3]![FIELD('remapped_rows.pending')]).toBe('Yes');
    expect(r.rows[3]![FIELD('remapped_rows.failure')]).toBe('No');
    expect(r.rows[2]![FIELD('remapped_rows.pending')]).toBe('No');
  });

  it('omits a lost GPU (Xid 79), reports it on stderr and exits 15', () => {
    const s = worker();
    s.injectXid(1, 79, false, T0);
    const r = table(s);
    expect(r.exitCode).toBe(15);
    expect(r.rows).toHaveLength(7);
    expect(r.rows.map((row) => row[0])).not.toContain('1');
    expect(r.stderr).toBe('Unable to determine the device handle for GPU 00000000:2A:00.0: GPU is lost.  Reboot the system to recover this GPU\n');
  });

  it('leaves non-memory Xids out of the table', () => {
    const s = worker();
    s.injectXid(0, 13, false, T0);
    expect(table(s).stdout).toBe(table(worker()).stdout);
  });
});

describe('journalctl -k -b 0 -o short-iso', () => {
  it('prints ordinary boot lines and injected Xid lines in short-iso format', () => {
    const s = worker();
    const t1 = new Date('2026-11-22T10:16:01Z');
    s.injectXid(0, 48, false, t1);
    const r = sh(s, FULL_LOG);
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000 dev-gpu-1 kernel: /);
    expect(lines.filter((l) => l.includes('NVRM'))).toEqual([
      "2026-11-22T10:16:01+0000 dev-gpu-1 kernel: NVRM: Xid (PCI:0000:18:00): 48, pid='<unknown>', name=<unknown>, An uncorrectable double bit error (DBE) has been detected on GPU in the framebuffer at physAddr 0x7fdf0de80 partition 5, subpartition 1",
    ]);
  });

  it('uses the lowercase kernel PCI address of the GPU', () => {
    const s = worker();
    s.injectXid(5, 79, false, T0);
    expect(sh(s, FULL_LOG).stdout).toContain('NVRM: Xid (PCI:0000:ab:00): 79, GPU has fallen off the bus.');
  });
});

describe('nvidia-smi -pm and -r', () => {
  it('toggles persistence mode with the driver messages', () => {
    const s = worker();
    const off = disablePm(s, 0);
    expect(off).toMatchObject({ exitCode: 0, stdout: 'Disabled persistence mode for GPU 00000000:18:00.0.\nAll done.\n' });
    expect(off.mutation).toMatchObject({ kind: 'persistence_mode', applied: true });
    expect(table(s).rows[0]![FIELD('persistence_mode')]).toBe('Disabled');
    expect(table(s).rows[1]![FIELD('persistence_mode')]).toBe('Enabled');
    expect(disablePm(s, 0).stdout).toBe('Persistence mode is already Disabled for GPU 00000000:18:00.0.\nAll done.\n');
    expect(sh(s, persistenceModeCommand(s.gpus[0]!.uuid, true)).stdout).toBe('Enabled persistence mode for GPU 00000000:18:00.0.\nAll done.\n');
  });

  it('refuses a reset while persistence mode is enabled', () => {
    const s = worker();
    s.injectXid(0, 48, false, T0);
    const r = resetGpu(s, 0);
    expect(r.exitCode).toBe(255);
    expect(r.stdout).toContain('The following GPUs could not be reset:\n  GPU 00000000:18:00.0: In use by another client\n');
    expect(r.stdout).toContain('1 device is currently being used by one or more other processes');
    expect(r.mutation).toMatchObject({ kind: 'reset_gpu', applied: false });
    expect(table(s).rows[0]![FIELD('remapped_rows.pending')]).toBe('Yes');
  });

  it('refuses a reset while the node has running allocations', () => {
    const s = worker();
    disablePm(s, 0);
    const r = resetGpu(s, 0, busy);
    expect(r.exitCode).toBe(255);
    expect(r.stdout).toContain('In use by another client');
  });

  it('clears a transient memory fault, without logging an Xid', () => {
    const s = worker();
    s.injectXid(0, 48, false, T0);
    const logBefore = sh(s, FULL_LOG).stdout;
    disablePm(s, 0);
    const r = resetGpu(s, 0);
    expect(r).toMatchObject({ exitCode: 0, stdout: 'GPU 00000000:18:00.0 was successfully reset.\n' });
    expect(r.mutation).toMatchObject({ kind: 'reset_gpu', applied: true });
    const row = table(s).rows[0]!;
    expect([row[FIELD('ecc.errors.uncorrected.volatile.total')], row[FIELD('remapped_rows.pending')], row[FIELD('remapped_rows.failure')]]).toEqual([
      '0',
      'No',
      'No',
    ]);
    expect(sh(s, FULL_LOG).stdout).toBe(logBefore);
  });

  it('keeps a persistent memory fault and reports the remap failure after the first reset', () => {
    const s = worker();
    s.injectXid(2, 48, true, T0);
    expect(table(s).rows[2]![FIELD('remapped_rows.failure')]).toBe('No');
    disablePm(s, 2);
    expect(resetGpu(s, 2).exitCode).toBe(0);
    const row = table(s).rows[2]!;
    expect([row[FIELD('ecc.errors.uncorrected.volatile.total')], row[FIELD('remapped_rows.pending')], row[FIELD('remapped_rows.failure')]]).toEqual([
      '1',
      'Yes',
      'Yes',
    ]);
  });

  it('cannot reset or change a lost GPU', () => {
    const s = worker();
    s.injectXid(1, 79, false, T0);
    for (const r of [disablePm(s, 1), resetGpu(s, 1)]) {
      expect(r.exitCode).toBe(15);
      expect(r.stderr).toContain('GPU 00000000:2A:00.0: GPU is lost.  Reboot the system to recover this GPU');
    }
  });

  it('answers an unknown GPU id with "No devices were found"', () => {
    const r = sh(worker(), resetGpuCommand('GPU-00000000-0000-0000-0000-000000000000'));
    expect(r).toMatchObject({ exitCode: 6, stderr: 'No devices were found\n' });
  });

  it('also addresses GPUs by index and PCI bus id', () => {
    const s = worker();
    expect(sh(s, ['nvidia-smi', '-pm', '0', '-i', '3']).stdout).toContain('00000000:5D:00.0');
    expect(sh(s, ['nvidia-smi', '-pm', '0', '-i', '00000000:9A:00.0']).stdout).toContain('00000000:9A:00.0');
  });
});

describe('dcgmi diag -r N -j', () => {
  const testNames = (json: any) => json['DCGM Diagnostic'].test_categories.flatMap((c: any) => c.tests.map((t: any) => `${c.category}/${t.name}`));

  it.each([
    [1, ['Deployment/software']],
    [2, ['Deployment/software', 'Integration/pcie', 'Hardware/memory']],
    [
      3,
      [
        'Deployment/software',
        'Integration/pcie',
        'Hardware/memory',
        'Hardware/diagnostic',
        'Stress/memory_bandwidth',
        'Stress/targeted_stress',
        'Stress/targeted_power',
      ],
    ],
  ])('level %i passes on a healthy idle node', (level, tests) => {
    const r = diag(worker(), level as number);
    expect(r.exitCode).toBe(0);
    expect(testNames(r.json)).toEqual(tests);
    for (const cat of r.json['DCGM Diagnostic'].test_categories) {
      for (const t of cat.tests) {
        expect(t.test_summary.status).toBe('Pass');
        expect(t.results.map((x: any) => x.status)).toEqual(Array(8).fill('Pass'));
      }
    }
    expect(r.json.metadata).toEqual({ version: '4.2.3', 'Driver Version Detected': '550.90.07' });
    expect(r.json.entity_groups[0].entities).toHaveLength(8);
  });

  it('level 4 adds memtest and pulse_test, each in its category', () => {
    expect(testNames(diag(worker(), 4).json)).toEqual([
      'Deployment/software',
      'Integration/pcie',
      'Hardware/memory',
      'Hardware/diagnostic',
      'Hardware/memtest',
      'Stress/memory_bandwidth',
      'Stress/targeted_stress',
      'Stress/targeted_power',
      'Stress/pulse_test',
    ]);
  });

  it('prints JsonCpp styled JSON (3-space indent, "key" : value)', () => {
    const out = sh(worker(), diagCommand(1)).stdout;
    expect(out.startsWith('{\n   "DCGM Diagnostic" : {\n      "test_categories" : [\n')).toBe(true);
    expect(out.endsWith('}\n')).toBe(true);
  });

  it('fails with 226 and a warning on the entity with a pending remap', () => {
    const s = worker();
    s.injectXid(1, 63, false, T0);
    const r = diag(s, 2);
    expect(r.exitCode).toBe(226);
    const software = r.json['DCGM Diagnostic'].test_categories[0].tests[0];
    expect(software.test_summary.status).toBe('Fail');
    expect(software.results[1]).toMatchObject({ entity_id: 1, status: 'Fail', warnings: [{ error_id: 85 }] });
    expect(software.results[0].status).toBe('Pass');
    const memory = r.json['DCGM Diagnostic'].test_categories[2].tests[0];
    expect(memory.results[1].status).toBe('Skip');
  });

  it('fails for a diag-fail fault in the memory test (level 2) or software (level 1)', () => {
    const s = worker();
    s.injectDiagFail(6);
    const r2 = diag(s, 2);
    expect(r2.exitCode).toBe(226);
    const memory = r2.json['DCGM Diagnostic'].test_categories[2].tests[0];
    expect(memory.results[6]).toMatchObject({ status: 'Fail', warnings: [{ error_id: 58 }] });
    expect(diag(s, 1).json['DCGM Diagnostic'].test_categories[0].tests[0].results[6].status).toBe('Fail');
  });

  it('fails for a lost GPU and for a persistent non-memory fault', () => {
    const s = worker();
    s.injectXid(4, 79, false, T0);
    s.injectXid(5, 74, true, T0);
    const results = diag(s, 1).json['DCGM Diagnostic'].test_categories[0].tests[0].results;
    expect(results[4]).toMatchObject({ status: 'Fail', warnings: [{ error_id: 120 }] });
    expect(results[5]).toMatchObject({ status: 'Fail', warnings: [{ error_id: 101 }] });
  });

  it('passes after a transient non-memory Xid', () => {
    const s = worker();
    s.injectXid(0, 13, false, T0);
    expect(diag(s, 1).exitCode).toBe(0);
  });

  it('returns a runtime_error and exit 215 while allocations run', () => {
    const r = diag(worker(), 2, busy);
    expect(r.exitCode).toBe(215);
    expect(Object.keys(r.json)).toEqual(['DCGM Diagnostic']);
    expect(r.json['DCGM Diagnostic'].runtime_error).toMatch(/Unable to complete diagnostic/);
    expect(r.json['DCGM Diagnostic'].test_categories).toBeUndefined();
  });

  it('rejects an invalid level', () => {
    expect(sh(worker(), ['dcgmi', 'diag', '-r', '9', '-j']).exitCode).toBe(254);
  });

  it('without nv-hostengine exits 250 with plain-text errors, even with -j, until the lab reset', () => {
    const s = worker();
    s.hostEngineDown = true;
    const r = sh(s, diagCommand(1));
    expect(r.exitCode).toBe(250);
    expect(r.stdout).toBe(
      'Error: unable to establish a connection to the specified host: localhost\nError: Unable to connect to host engine. Host engine connection invalid/disconnected.\n',
    );
    s.boot(T0);
    expect(sh(s, diagCommand(1)).exitCode).toBe(250);
    s.resetToHealthy(T0);
    expect(diag(s, 1).exitCode).toBe(0);
  });
});

describe('boot', () => {
  it('changes boot_id, clears transient faults, re-logs persistent ones, restores persistence mode', () => {
    const s = worker();
    const before = sh(s, bootIdCommand()).stdout;
    s.injectXid(0, 48, false, T0);
    s.injectXid(1, 79, false, T0);
    s.injectXid(2, 48, true, T0);
    s.injectXid(3, 79, true, T0);
    disablePm(s, 4);
    const t1 = new Date('2026-11-22T11:00:00Z');
    s.boot(t1);
    const after = sh(s, bootIdCommand()).stdout;
    expect(after).toMatch(/^[0-9a-f-]{36}\n$/);
    expect(after).not.toBe(before);
    const r = table(s);
    expect(r.exitCode).toBe(15);
    expect(r.rows.map((row) => row[0])).toEqual(['0', '1', '2', '4', '5', '6', '7']);
    expect(r.rows[0]![FIELD('remapped_rows.pending')]).toBe('No');
    expect(r.rows[2]![FIELD('remapped_rows.pending')]).toBe('Yes');
    expect(r.rows.every((row) => row[FIELD('persistence_mode')] === 'Enabled')).toBe(true);
    const nvrm = sh(s, FULL_LOG)
      .stdout.split('\n')
      .filter((l) => l.includes('NVRM'));
    expect(nvrm).toHaveLength(2);
    expect(nvrm[0]).toMatch(/^2026-11-22T11:00:00\+0000 dev-gpu-1 kernel: NVRM: Xid \(PCI:0000:3a:00\): 48, /);
    expect(nvrm[1]).toContain('NVRM: Xid (PCI:0000:5d:00): 79, GPU has fallen off the bus.');
    // The previous boot's journal is still there.
    expect(sh(s, ['journalctl', '-k', '-b', '-1', '--no-pager', '-o', 'short-iso']).stdout.split('NVRM: Xid').length - 1).toBe(4);
  });

  it('asks the SSH layer to reboot on systemctl reboot', () => {
    expect(sh(worker(), rebootCommand())).toMatchObject({ exitCode: 0, reboot: true, mutation: { kind: 'reboot', applied: true } });
  });
});

describe('command line handling', () => {
  it.each(['nvidia-smi; reboot', 'cat /proc/*/boot_id', 'echo $(id)', 'cat $HOME', 'nvidia-smi > /tmp/x', 'a && b', 'echo `id`', 'ls # c'])(
    'refuses shell syntax: %s',
    (cmd) => {
      const r = execOnHost(worker(), cmd, idle);
      expect(r.exitCode).toBe(2);
      expect(r.stderr).toMatch(/^lab: /);
    },
  );

  it('answers unknown commands like bash', () => {
    expect(execOnHost(worker(), 'rm -rf /', idle)).toMatchObject({ exitCode: 127, stderr: 'bash: rm: command not found\n' });
  });

  it('control hosts have the base system (cat, hostname, journalctl, systemctl) but no GPU tools', () => {
    const s = new SimHostState('dev-control-1', 'dev-control-1', 'platform_control', T0);
    expect(sh(s, bootIdCommand())).toMatchObject({ exitCode: 0, stdout: `${s.bootId}\n` });
    expect(sh(s, ['hostname'])).toMatchObject({ exitCode: 0, stdout: 'dev-control-1\n' });
    expect(sh(s, FULL_LOG).stdout).toContain('dev-control-1 kernel: Linux version');
    expect(sh(s, rebootCommand())).toMatchObject({ exitCode: 0, reboot: true });
    expect(sh(s, gpuTableCommand())).toMatchObject({ exitCode: 127, stderr: 'bash: nvidia-smi: command not found\n' });
    expect(sh(s, diagCommand(1))).toMatchObject({ exitCode: 127, stderr: 'bash: dcgmi: command not found\n' });
  });
});

describe('styledJson', () => {
  it('sorts keys, indents by 3 and keeps short scalar arrays inline', () => {
    expect(styledJson({ b: [1, 2], a: { c: 'x' }, e: [], d: {} })).toBe(
      '{\n   "a" : {\n      "c" : "x"\n   },\n   "b" : [ 1, 2 ],\n   "d" : {},\n   "e" : []\n}\n',
    );
  });
});

describe('durations and what a running process holds', () => {
  const plan = (state: SimHostState, argv: string[], ctx: CommandContext = idle) => planCommand(state, argv, ctx);

  it('gives each tool its real duration at timeScale 1', () => {
    const s = worker();
    expect(plan(s, gpuTableCommand()).durationMs).toBe(300);
    expect(plan(s, persistenceModeCommand(s.gpus[0]!.uuid, false)).durationMs).toBe(1_000);
    expect(plan(s, ['dcgmi', 'diag', '-r', '1', '-j']).durationMs).toBe(60_000);
    expect(plan(s, diagCommand(2)).durationMs).toBe(120_000);
    expect(plan(s, diagCommand(3)).durationMs).toBe(900_000);
    expect(plan(s, ['dcgmi', 'diag', '-r', 'xlong', '-j']).durationMs).toBe(3_600_000);
    expect(plan(s, bootIdCommand()).durationMs).toBe(20);
    expect(plan(s, ['hostname']).durationMs).toBe(20);
    expect(plan(s, kernelLogCommand()).durationMs).toBeGreaterThanOrEqual(200);
    disablePm(s, 0);
    const reset = plan(s, resetGpuCommand(s.gpus[0]!.uuid));
    expect(reset.durationMs).toBe(4_000);
    expect(reset.holds).toEqual({ gpus: [0] });
    expect(plan(s, diagCommand(2)).holds).toEqual({ diag: true });
  });

  it('charges journalctl about 100 ms per MiB of output', () => {
    const s = worker();
    s.kernelLog.appendNoise(new Date(T0.getTime() + 1000), 4 * 1024 * 1024);
    const d = plan(s, ['journalctl', '-k', '-b', '0', '-o', 'short-iso-precise']).durationMs;
    expect(d).toBeGreaterThan(200 + 380);
    expect(d).toBeLessThan(200 + 420);
  });

  it('does not change anything before the process exits', () => {
    const s = worker();
    const p = plan(s, persistenceModeCommand(s.gpus[1]!.uuid, false));
    expect(s.gpus[1]!.persistence_mode).toBe(true);
    expect(p.finish().exitCode).toBe(0);
    expect(s.gpus[1]!.persistence_mode).toBe(false);
  });

  it('refuses a second diag with 217 and DCGM_ST_DIAG_ALREADY_RUNNING, at once', () => {
    const running = { ...idle, diagRunning: true };
    const p = plan(worker(), diagCommand(3), running);
    expect(p.durationMs).toBeLessThan(100);
    const r = p.finish();
    expect(r.exitCode).toBe(217);
    expect(JSON.parse(r.stdout)).toEqual({
      'DCGM Diagnostic': {
        runtime_error:
          'Unable to complete diagnostic for group 0. Return: (-39) A diag instance is already running, cannot run a new diag until the current one finishes',
        version: '4.2.3',
      },
    });
    expect(execOnHost(worker(), 'dcgmi diag -r 1', running)).toMatchObject({
      exitCode: 217,
      stdout:
        'Error: Unable to complete diagnostic for group 0. Return: (-39) A diag instance is already running, cannot run a new diag until the current one finishes\n',
    });
  });

  it('refuses a reset while a diag runs, while another process has the GPU, or while a stray process holds it', () => {
    const s = worker();
    for (const g of [2, 3]) disablePm(s, g);
    const refused = (ctx: CommandContext, index: number) => {
      const r = resetGpu(s, index, ctx);
      return r.exitCode === 255 && r.stdout.includes(`GPU ${s.gpus[index]!.pci_bus_id}: In use by another client`);
    };
    expect(refused({ ...idle, diagRunning: true }, 2)).toBe(true);
    expect(refused({ ...idle, gpusInUse: [2] }, 2)).toBe(true);
    expect(refused({ ...idle, gpusInUse: [3] }, 2)).toBe(false);
    const stray = s.holdGpu(3, 'python3');
    expect(stray).toEqual({ gpu_index: 3, pid: expect.any(Number), name: 'python3' });
    expect(refused(idle, 3)).toBe(true);
    s.boot(new Date(T0.getTime() + 60_000));
    disablePm(s, 3);
    expect(resetGpu(s, 3).exitCode).toBe(0);
  });
});

describe('diag-omit-gpu', () => {
  it('leaves the GPU out of results and entity_groups, even when it would fail', () => {
    const s = worker();
    s.injectDiagFail(5);
    s.omitFromDiag(5);
    const r = diag(s, 2);
    expect(r.exitCode).toBe(0);
    expect(r.json.entity_groups[0].entities.map((e: any) => e.entity_id)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    for (const cat of r.json['DCGM Diagnostic'].test_categories) {
      for (const t of cat.tests) expect(t.results.map((x: any) => x.entity_id)).toEqual([0, 1, 2, 3, 4, 6, 7]);
    }
    expect(sh(s, ['dcgmi', 'diag', '-r', '1']).stdout).not.toContain('GPU5');
  });
});

describe('Xid 154 and the recovery action', () => {
  it('logs the driver line after the Xid and tracks the action until a reset', () => {
    const s = worker();
    const lines = s.injectXid(0, 48, false, T0, 'gpu_reset');
    expect(lines.map((l) => l.message)).toEqual([
      expect.stringMatching(/^NVRM: Xid \(PCI:0000:18:00\): 48, /),
      'NVRM: Xid (PCI:0000:18:00): 154, GPU recovery action changed from 0x0 (None) to 0x1 (GPU Reset Required)',
    ]);
    expect(s.injectXid(0, 79, false, T0, 'node_reboot')[1]!.message).toBe(
      'NVRM: Xid (PCI:0000:18:00): 154, GPU recovery action changed from 0x1 (GPU Reset Required) to 0x2 (Node Reboot Required)',
    );
    const t = worker();
    t.injectXid(6, 94, false, T0, 'drain_p2p');
    expect(t.injectXid(6, 95, false, T0, 'drain_and_reset')[1]!.message).toBe(
      'NVRM: Xid (PCI:0000:ba:00): 154, GPU recovery action changed from 0x3 (Drain P2P) to 0x4 (Drain and Reset)',
    );
    const q = () => sh(t, ['nvidia-smi', '--query-gpu=index,gpu_recovery_action', '--format=csv,noheader']).stdout.split('\n')[6];
    expect(q()).toBe('6, Drain and Reset');
    disablePm(t, 6);
    expect(resetGpu(t, 6).exitCode).toBe(0);
    expect(q()).toBe('6, None');
  });
});

describe('journalctl as the engine calls it', () => {
  const ENGINE = ['journalctl', '-k', '-b', '0', '-q', '--no-pager', '-o', 'short-iso-precise'];
  const at = (iso: string) => new Date(iso);
  const logged = () => {
    const s = worker();
    s.injectXid(0, 48, false, at('2026-11-22T10:16:01.250Z'));
    s.injectXid(3, 79, false, at('2026-11-22T10:17:00.000Z'));
    return s;
  };
  const nvrm = (r: { stdout: string }) => r.stdout.split('\n').filter((l) => l.includes('NVRM'));

  it('prints microsecond timestamps with -o short-iso-precise', () => {
    const lines = sh(logged(), ENGINE).stdout.trim().split('\n');
    for (const l of lines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+0000 dev-gpu-1 kernel: /);
    expect(lines.find((l) => l.includes('NVRM'))).toMatch(/^2026-11-22T10:16:01\.250000\+0000 dev-gpu-1 kernel: NVRM: Xid \(PCI:0000:18:00\): 48, /);
  });

  it.each([['2026-11-22 10:16:30 UTC'], ['2026-11-22 10:16:30'], ['2026-11-22 10:16:01.250001 UTC'], ['@1795342561.250001']])(
    '--since=%s keeps entries at or after it',
    (since) => {
      const r = sh(logged(), [...ENGINE, `--since=${since}`, '--grep=NVRM']);
      expect(r.exitCode).toBe(0);
      expect(nvrm(r)).toEqual([expect.stringContaining('NVRM: Xid (PCI:0000:5d:00): 79, ')]);
    },
  );

  it('includes an entry logged exactly at --since', () => {
    expect(nvrm(sh(logged(), [...ENGINE, '--since=2026-11-22 10:16:01.250000 UTC']))).toHaveLength(2);
    expect(parseTimestamp('@1795342561.25', T0)).toBe(1795342561_250000);
    expect(parseTimestamp('2026-11-22 10:16:01.25 UTC', T0)).toBe(1795342561_250000);
  });

  it('refuses a timestamp it cannot parse', () => {
    expect(sh(logged(), [...ENGINE, '--since=last tuesday'])).toMatchObject({ exitCode: 1, stderr: 'Failed to parse timestamp: last tuesday\n' });
    expect(sh(logged(), [...ENGINE, '--since=2026-02-30 10:00:00']).exitCode).toBe(1);
  });

  it('greps with smart case: an uppercase letter makes the pattern case-sensitive', () => {
    const s = logged();
    expect(nvrm(sh(s, [...ENGINE, '--grep=NVRM: Xid']))).toHaveLength(2);
    expect(sh(s, [...ENGINE, '--grep=nvrm: XID'])).toMatchObject({ exitCode: 1, stdout: '' });
    expect(
      sh(s, [...ENGINE, '--grep=nvrm: xid'])
        .stdout.trim()
        .split('\n'),
    ).toHaveLength(2);
    expect(
      sh(s, [...ENGINE, '--grep=Xid \\(PCI:0000:5d:00\\): (79|48),'])
        .stdout.trim()
        .split('\n'),
    ).toHaveLength(1);
  });

  it('keeps the newest N matching lines with -n / --lines', () => {
    const s = logged();
    expect(nvrm(sh(s, [...ENGINE, '--grep=NVRM', '-n', '1']))).toEqual([expect.stringContaining(': 79, ')]);
    expect(nvrm(sh(s, [...ENGINE, '--grep=NVRM', '--lines=1']))).toEqual([expect.stringContaining(': 79, ')]);
    expect(nvrm(sh(s, [...ENGINE, '--grep=NVRM', '-n100']))).toHaveLength(2);
    expect(
      sh(s, [...ENGINE, '-n', '3'])
        .stdout.trim()
        .split('\n'),
    ).toHaveLength(3);
  });

  it('prints "-- No entries --" without -q; with --grep and no match the exit status is 1', () => {
    const s = logged();
    const noQ = ENGINE.filter((a) => a !== '-q');
    expect(sh(s, [...noQ, '--since=2030-01-01 00:00:00 UTC'])).toMatchObject({ exitCode: 0, stdout: '-- No entries --\n' });
    expect(sh(s, [...ENGINE, '--since=2030-01-01 00:00:00 UTC'])).toMatchObject({ exitCode: 0, stdout: '' });
    expect(sh(s, [...noQ, '--grep=Xid 999'])).toMatchObject({ exitCode: 1, stdout: '-- No entries --\n' });
    expect(sh(s, [...ENGINE, '--grep=Xid 999'])).toMatchObject({ exitCode: 1, stdout: '', stderr: '' });
  });

  it("answers the engine's own command with NVRM lines only, and with exit 1 and no output on a clean host", () => {
    const r = sh(logged(), kernelLogCommand());
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([expect.stringContaining(': 48, '), expect.stringContaining(': 79, ')]);
    // systemd >= 243: --grep without a match exits 1, like grep; -q drops the "-- No entries --" line.
    expect(sh(worker(), kernelLogCommand())).toMatchObject({ exitCode: 1, stdout: '', stderr: '' });
  });

  it('rejects unknown options and bad patterns like journalctl', () => {
    expect(sh(worker(), [...ENGINE, '--bogus'])).toMatchObject({ exitCode: 1, stderr: "journalctl: unrecognized option '--bogus'\n" });
    expect(sh(worker(), [...ENGINE, '--grep=(unclosed']).exitCode).toBe(1);
    expect(sh(worker(), ['journalctl', '-k', '-o', 'verbose-ish']).stderr).toBe("Unknown output format 'verbose-ish'.\n");
  });
});

describe('kernel noise', () => {
  it('adds about the requested bytes of ordinary lines, none of them about the NVIDIA driver', () => {
    const j = new KernelJournal('dev-gpu-1');
    j.append(T0, 'Linux version 6.8.0-45-generic');
    const end = new Date(T0.getTime() + 60_000);
    const added = j.appendNoise(end, 1024 * 1024);
    expect(added.bytes).toBeGreaterThanOrEqual(1024 * 1024);
    expect(added.bytes).toBeLessThan(1024 * 1024 + 1024);
    const lines = [...j.read()];
    expect(lines).toHaveLength(1 + added.lines);
    expect(new Set(lines.map((l) => l.message.split(' ')[0])).size).toBeGreaterThan(8);
    for (const l of lines) expect(l.message).not.toMatch(/nvrm|xid|nvidia|gpu/i);
    // Spread between the previous entry and now, never going backwards.
    for (let i = 1; i < lines.length; i++) expect(lines[i]!.us).toBeGreaterThanOrEqual(lines[i - 1]!.us);
    expect(lines[lines.length - 1]!.us).toBe(end.getTime() * 1000);
    // Regenerated identically on every read.
    expect([...j.read()].map((l) => l.message)).toEqual(lines.map((l) => l.message));
  });
});

describe('systemd command lines', () => {
  const ENGINE_RUN = [
    '--unit=rb-abc.1',
    '--quiet',
    '--remain-after-exit',
    '--property=StandardOutput=truncate:/var/tmp/rb-abc.1.out',
    '--property=StandardError=truncate:/var/tmp/rb-abc.1.err',
    '--',
    'dcgmi',
    'diag',
    '-r',
    '3',
    '-j',
  ];

  it('reads the engine protocol and the same options in any order or short form', () => {
    const expected = {
      unit: 'rb-abc.1.service',
      quiet: true,
      remainAfterExit: true,
      collect: false,
      stdout: { mode: 'truncate', path: '/var/tmp/rb-abc.1.out' },
      stderr: { mode: 'truncate', path: '/var/tmp/rb-abc.1.err' },
      command: ['dcgmi', 'diag', '-r', '3', '-j'],
    };
    expect(parseSystemdRun(ENGINE_RUN)).toEqual({ ok: true, value: expected });
    const shuffled = [
      '-p',
      'StandardError=truncate:/var/tmp/rb-abc.1.err',
      '-qr',
      '--property',
      'StandardOutput=truncate:/var/tmp/rb-abc.1.out',
      '-u',
      'rb-abc.1.service',
      'dcgmi',
      'diag',
      '-r',
      '3',
      '-j',
    ];
    expect(parseSystemdRun(shuffled)).toEqual({ ok: true, value: expected });
  });

  it('refuses what systemd-run refuses', () => {
    const err = (args: string[]) => {
      const r = parseSystemdRun(args);
      return r.ok ? 'accepted' : `${r.exitCode} ${r.stderr}`;
    };
    expect(err(['--unitt=x', '--', 'true'])).toBe("1 systemd-run: unrecognized option '--unitt'\n");
    expect(err(['-z', '--', 'true'])).toBe("1 systemd-run: invalid option -- 'z'\n");
    expect(err(['--unit=x', '--quiet'])).toBe('1 Command line to execute required.\n');
    expect(err(['--unit=bad/name', '--', 'true'])).toBe('1 Failed to mangle unit name: Invalid argument\n');
    expect(err(['--property=Bogus=1', '--', 'true'])).toBe('1 Unknown assignment: Bogus=1\n');
    expect(err(['--unit'])).toBe("1 systemd-run: option '--unit' requires an argument\n");
  });

  it('reads systemctl properties from --property=, -p and repeated options', () => {
    const r = parseSystemctl(['show', '--property=LoadState,ActiveState', '-p', 'SubState', '-pResult', 'x.service', 'y']);
    expect(r).toEqual({
      ok: true,
      value: {
        verb: 'show',
        units: ['x.service', 'y.service'],
        properties: ['LoadState', 'ActiveState', 'SubState', 'Result'],
        valueOnly: false,
        quiet: false,
      },
    });
  });

  it("prints properties in systemd's order, not the requested one, and skips unknown names", () => {
    const out = formatShow(
      notFoundUnit('x.service'),
      ['ExecMainStatus', 'LoadState', 'Nope', 'ExecMainPID', 'SubState', 'Result', 'ActiveState', 'ExecMainCode'],
      false,
    );
    expect(out).toBe('Result=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\nLoadState=not-found\nActiveState=inactive\nSubState=dead\n');
  });
});
