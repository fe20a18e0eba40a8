import fs from 'node:fs';
import net from 'node:net';
import { createSshExecutor } from '../../capabilities/host/ssh-executor';
import { findHost, InventorySchema, type InventoryHost } from '../../domain/inventory';
import { LabAdmin } from '../../lab/admin-client';
import { applicationFailureOf as failureOf } from '../support/failures';
import { testEnv } from '../support/test-env';

const inventory = () => InventorySchema.parse(JSON.parse(fs.readFileSync(testEnv('inventoryFile'), 'utf8')));
const lab = () => new LabAdmin(testEnv('platformUrl'), testEnv('platformToken'));
const ssh = (outputLimitBytes = 1024 * 1024) =>
  createSshExecutor({ privateKey: fs.readFileSync(testEnv('clientKeyFile')), connectTimeoutMs: 3000, commandTimeoutMs: 5000, outputLimitBytes });
const NODE = 'dev-gpu-4';

beforeEach(async () => {
  await lab().reset();
});

test('runs a command on the pinned host over its transport address and returns its output', async () => {
  const host = findHost(inventory(), NODE)!;
  const res = await ssh().exec({ ...host, hostname: 'display-name-only.invalid' }, ['cat', '/proc/sys/kernel/random/boot_id']);
  expect(res).toMatchObject({ command: 'cat /proc/sys/kernel/random/boot_id', exit_code: 0, truncated: false, disconnected: false });
  expect(res.stdout.trim()).toMatch(/^[0-9a-f-]{36}$/);
  expect((await lab().records(NODE)).commands.map((c) => c.command)).toEqual(['cat /proc/sys/kernel/random/boot_id']);
});

test('arguments arrive quoted: the host sees one argument, not a second command', async () => {
  const host = findHost(inventory(), NODE)!;
  const res = await ssh().exec(host, ['nvidia-smi', '-r', '-i', 'GPU-x; systemctl reboot']);
  expect(res.exit_code).not.toBe(0);
  const [cmd] = (await lab().records(NODE)).commands;
  expect(cmd!.command).toBe("nvidia-smi -r -i 'GPU-x; systemctl reboot'");
  expect((await lab().records(NODE)).mutations.filter((m) => m.kind === 'reboot')).toEqual([]);
});

test('a host presenting another key is refused with HostKeyMismatch before any command', async () => {
  const inv = inventory();
  const host = findHost(inv, NODE)!;
  const otherKey = inv.hosts.find((h) => h.node_id !== NODE)!.host_key;
  const failure = await failureOf(ssh().exec({ ...host, host_key: otherKey }, ['cat', '/proc/sys/kernel/random/boot_id']));
  expect(failure.type).toBe('HostKeyMismatch');
  expect(failure.nonRetryable).toBe(true);
  expect(failure.message).toMatch(/SHA256:/);
  expect((await lab().records(NODE)).commands).toEqual([]);
});

test('output beyond the cap is cut and flagged', async () => {
  const host = findHost(inventory(), NODE)!;
  const res = await ssh(64).exec(host, ['nvidia-smi', '--query-gpu=index,uuid,pci.bus_id,name', '--format=csv,noheader,nounits']);
  expect(res.exit_code).toBe(0);
  expect(Buffer.byteLength(res.stdout)).toBe(64);
  expect(res.truncated).toBe(true);
});

test('a port nobody listens on is HostUnreachable (retryable)', async () => {
  const closed = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
  const host: InventoryHost = { ...findHost(inventory(), NODE)!, port: closed };
  const failure = await failureOf(ssh().exec(host, ['true']));
  expect(failure.type).toBe('HostUnreachable');
  expect(failure.nonRetryable).toBe(false);
});
