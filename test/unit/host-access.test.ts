/**
 * HostAccess refuses a host for the action an activity declares before any command runs,
 * and its authorized host still refuses each command its role does not allow.
 */
import pino from 'pino';
import type { EvidenceStore } from '../../capabilities/evidence/evidence-store';
import { HostAccess } from '../../capabilities/host/host-access';
import type { CommandResult, SshExecutor } from '../../capabilities/host/ssh-executor';
import type { InventoryHost } from '../../domain/inventory';
import type { StepContext } from '../../domain/step-context';

const control: InventoryHost = {
  node_id: 'dev-control-1',
  hostname: 'dev-control-1',
  role: 'platform_control',
  host: '127.0.0.1',
  port: 22,
  user: 'root',
  host_key: 'ssh-ed25519 AAAA',
  gpu_count: 0,
  labels: {},
  drillable: false,
};

function setup() {
  const commands: string[][] = [];
  const recorded: string[] = [];
  const ssh: SshExecutor = {
    exec: async (_host, argv): Promise<CommandResult> => {
      commands.push([...argv]);
      return { command: argv.join(' '), exit_code: 0, stdout: 'boot-1\n', stderr: '', truncated: false, duration_ms: 1, disconnected: false };
    },
  };
  const evidence = {
    record: async (_ctx: StepContext, e: { idempotency_key: string }) => (recorded.push(e.idempotency_key), 'id'),
  } as unknown as EvidenceStore;
  const hosts = new HostAccess({ inventory: { hosts: [control] }, ssh, evidence, logger: pino({ level: 'silent' }) });
  return { hosts, commands, recorded };
}

const ctx: StepContext = {
  workflow_id: 'wf',
  run_id: 'r1',
  runbook: 'gpu-fault-remediation',
  correlation_id: 'c',
  step: 'reboot',
  idempotency_key: 'wf/reboot',
  node_id: 'dev-control-1',
};

test('an activity declared as a reboot is refused on a control host before its boot-id read, quoting the rule', () => {
  const { hosts, commands } = setup();
  expect(() => hosts.authorize(ctx, 'reboot_host')).toThrow(
    expect.objectContaining({ type: 'HostRoleViolation', message: expect.stringContaining('rule no-destructive-hardware-on-platform-control') }),
  );
  expect(commands).toEqual([]);
});

test('an authorized host runs and records what its role allows, and refuses each command that its role does not', async () => {
  const { hosts, commands, recorded } = setup();
  const host = hosts.authorize(ctx, 'read_boot_id');
  expect(host.ctx).toMatchObject({ node_id: 'dev-control-1', host_name: 'dev-control-1', host_role: 'platform_control' });
  await host.run('read_boot_id', ['cat', '/proc/sys/kernel/random/boot_id'], { evidenceSuffix: 'boot_id' });
  await expect(host.run('reboot_host', ['systemctl', 'reboot'])).rejects.toMatchObject({ type: 'HostRoleViolation' });
  expect(commands).toEqual([['cat', '/proc/sys/kernel/random/boot_id']]);
  expect(recorded).toEqual(['wf/reboot/cmd/boot_id']);
});

test('a node outside the inventory is refused before any command', async () => {
  const { hosts, commands } = setup();
  await expect(hosts.run({ ...ctx, node_id: 'nowhere' }, 'read_boot_id', ['true'])).rejects.toMatchObject({
    type: 'HostNotInInventory',
    message: 'node nowhere is not in the inventory',
  });
  expect(commands).toEqual([]);
});
