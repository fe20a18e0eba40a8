import { isAlreadyLoaded, parseUnitState, startUnitCommand, unitNameFor } from '../../capabilities/host/systemd-unit';
import { journalTimestampMicros, newerThan, newestTimestamp, sinceArgument } from '../../capabilities/gpu/kernel-log-window';
import { pgSafeJson } from '../../domain/pg-safe-json';
import { parseKernelXids } from '../../capabilities/gpu/parse-kernel-xids';

describe('systemd unit protocol', () => {
  test('unit names are stable per key, distinct per key, and valid systemd names', () => {
    const a = unitNameFor('gpu-fault/dev-gpu-1/run-1/14-run_gpu_diag/job/diag_r3', 'run_gpu_diag');
    expect(a).toBe(unitNameFor('gpu-fault/dev-gpu-1/run-1/14-run_gpu_diag/job/diag_r3', 'run_gpu_diag'));
    expect(a).not.toBe(unitNameFor('gpu-fault/dev-gpu-1/run-2/14-run_gpu_diag/job/diag_r3', 'run_gpu_diag'));
    expect(a).toMatch(/^gpuaas-run_gpu_diag-[0-9a-f]{20}$/);
    expect(unitNameFor('k', 'reset gpu/3;rm -rf')).toMatch(/^gpuaas-reset_gpu_3_rm__rf-[0-9a-f]{20}$/);
  });

  test('the start command keeps the program argv after -- untouched', () => {
    const argv = startUnitCommand('gpuaas-x-1', ['dcgmi', 'diag', '-r', '3', '-j']);
    expect(argv.slice(argv.indexOf('--') + 1)).toEqual(['dcgmi', 'diag', '-r', '3', '-j']);
    expect(argv).toContain('--remain-after-exit');
    expect(argv).toContain('--property=StandardOutput=truncate:/var/tmp/gpuaas-x-1.out');
  });

  test.each([
    [
      'not-found',
      'LoadState=not-found\nActiveState=inactive\nSubState=dead\nResult=success\nExecMainPID=0\nExecMainCode=0\nExecMainStatus=0\n',
      { kind: 'absent' },
    ],
    [
      'running',
      'ExecMainStatus=0\nExecMainCode=0\nLoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nExecMainPID=4242\n',
      { kind: 'running', pid: 4242 },
    ],
    [
      'exited 0',
      'LoadState=loaded\nActiveState=active\nSubState=exited\nResult=success\nExecMainPID=4242\nExecMainCode=1\nExecMainStatus=0\n',
      { kind: 'exited', exit_code: 0, failed: false },
    ],
    [
      'exited 226',
      'LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=exit-code\nExecMainPID=4242\nExecMainCode=1\nExecMainStatus=226\n',
      { kind: 'exited', exit_code: 226, failed: true },
    ],
    [
      'killed',
      'LoadState=loaded\nActiveState=failed\nSubState=failed\nResult=signal\nExecMainPID=4242\nExecMainCode=2\nExecMainStatus=9\n',
      { kind: 'killed', signal: 9 },
    ],
    ['activating', 'LoadState=loaded\nActiveState=activating\nSubState=start\nResult=success\n', { kind: 'other', active: 'activating', sub: 'start' }],
  ])('parses systemctl show: %s', (_name, stdout, expected) => {
    expect(parseUnitState(stdout)).toEqual(expected);
  });

  test('output without LoadState is an error, not "absent"', () => {
    expect(() => parseUnitState('Failed to connect to bus: No such file or directory\n')).toThrow(/LoadState/);
  });

  test('recognises systemd-run refusing a second unit of the same name', () => {
    expect(isAlreadyLoaded('Failed to start transient service unit: Unit gpuaas-x.service was already loaded or has a fragment file.\n')).toBe(true);
    expect(isAlreadyLoaded('Failed to start transient service unit: Access denied\n')).toBe(false);
  });
});

describe('kernel log window', () => {
  const line = (ts: string, xid: number) =>
    `${ts} dev-gpu-1 kernel: NVRM: Xid (PCI:0000:18:00): ${xid}, pid='<unknown>', name=<unknown>, Channel ID 0000000d intr0 00040000`;

  test('short-iso-precise timestamps convert to microseconds, offsets included', () => {
    expect(journalTimestampMicros('2026-11-22T10:15:30.123456+0000')).toBe(Date.UTC(2026, 10, 22, 10, 15, 30) * 1000 + 123456);
    expect(journalTimestampMicros('2026-11-22T11:15:30.000001+0100')).toBe(Date.UTC(2026, 10, 22, 10, 15, 30) * 1000 + 1);
    expect(journalTimestampMicros('Nov 22 10:15:30')).toBeUndefined();
  });

  test('--since is the cursor as @seconds.micros', () => {
    expect(sinceArgument('2026-11-22T10:15:30.000042+0000')).toBe(`@${Date.UTC(2026, 10, 22, 10, 15, 30) / 1000}.000042`);
    expect(sinceArgument('')).toBeUndefined();
  });

  test('only Xids strictly after the cursor count; the newest becomes the next cursor', () => {
    const events = parseKernelXids(
      [line('2026-11-22T10:15:30.000001+0000', 48), line('2026-11-22T10:15:30.000002+0000', 63), line('2026-11-22T10:20:00.500000+0000', 79)].join('\n'),
    );
    const fresh = newerThan(events, '2026-11-22T10:15:30.000001+0000');
    expect(fresh.map((e) => e.xid)).toEqual([63, 79]);
    expect(newestTimestamp(fresh, '2026-11-22T10:15:30.000001+0000')).toBe('2026-11-22T10:20:00.500000+0000');
    expect(newestTimestamp([], '2026-11-22T10:15:30.000001+0000')).toBe('2026-11-22T10:15:30.000001+0000');
    expect(newerThan(events, undefined)).toHaveLength(3);
  });
});

describe('evidence JSON', () => {
  test('a NUL in any string cannot break a jsonb write, and literal backslash text is kept', () => {
    const text = pgSafeJson({ actor: 'ev\u0000il', note: 'the text \\u0000 stays text', nested: ['\u0000'] });
    expect(text).not.toMatch(/(?<!\\)(\\\\)*\\u0000/);
    expect(JSON.parse(text)).toEqual({ actor: 'ev\u2400il', note: 'the text \\u0000 stays text', nested: ['\u2400'] });
  });

  test('a lone surrogate (half an emoji) becomes U+FFFD; a whole emoji and escaped text are kept', () => {
    const text = pgSafeJson({ source: 'alice\ud800', low: '\udc00x', whole: 'gpu 🔥', note: 'the text \\ud800 stays text' });
    expect(JSON.parse(text)).toEqual({ source: 'alice\ufffd', low: '\ufffdx', whole: 'gpu 🔥', note: 'the text \\ud800 stays text' });
  });
});
