/**
 * INVENTORY_FILE as an Ansible inventory in seed 002's layout: hosts.ini with the three role
 * groups, group_vars and host_vars, read into the engine's inventory through the same schema as
 * a JSON or YAML one, with every refusal naming its file and line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadInventory } from '../../config';
import { buildInventory, labHostSpecs, writeInventory } from '../../lab/inventory';
import { LAB_ANSIBLE_ENVIRONMENT, writeAnsibleInventory } from '../../lab/ansible-inventory';
import type { Inventory } from '../../domain/inventory';

const KEY = (n: number) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJ${n}`;

let root: string;
let seq = 0;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'gpuaas-ansible-'));
});
afterAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
});

/** Writes `files` (paths relative to a new environment folder) and returns the folder's hosts.ini. */
function environment(files: Record<string, string>): string {
  const dir = path.join(root, `inv-${++seq}`, 'environments', 'dev');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return path.join(dir, 'hosts.ini');
}

function problemsOf(file: string): string[] {
  try {
    loadInventory(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message.split('\n')[0]).toBe(`Invalid inventory ${file}:`);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

/** The three-host lab of seed 002, written as its operators would. */
const SEED_LAB = {
  'hosts.ini': [
    '# seed 002: dev-control-1, dev-lab-1, dev-gpu-1',
    '[platform_control]',
    'dev-control-1 ansible_host=100.90.157.34',
    '',
    '[app_control]',
    'dev-lab-1 ansible_host=100.69.173.30 ansible_port=2222  # a comment',
    '',
    '[worker_compute]',
    `dev-gpu-1 ansible_host=100.88.227.60 gpuaas_node_id=gpu-a017 gpuaas_host_key="${KEY(1)} root@dev-gpu-1"`,
    '',
    '[worker_compute:children]',
    'rack_r12',
    '',
    '[rack_r12]',
    'dev-gpu-2:2202 ansible_host=100.88.227.61',
    '',
    '[rack_r12:vars]',
    'gpuaas_label_rack=r12',
    '',
    '[worker_compute:vars]',
    'gpuaas_label_rack=r11',
    '',
    '[all:vars]',
    'ansible_user=ops',
  ].join('\n'),
  'group_vars/worker_compute.yml': 'gpuaas_gpu_count: 8\ngpuaas_label_pool: h100-a\n',
  'group_vars/all.yml': 'ansible_python_interpreter: /usr/bin/python3\n',
  'host_vars/dev-control-1.yml': `gpuaas_host_key: ${KEY(2)}\n`,
  'host_vars/dev-lab-1.yml': `gpuaas_host_key: ${KEY(3)}\ngpuaas_drillable: true\n`,
  'host_vars/dev-gpu-2.yaml': `gpuaas_host_key: ${KEY(4)}\nansible_user: root\n`,
};

describe('reading an Ansible inventory', () => {
  it('maps role groups, connection variables and gpuaas_ variables onto the engine inventory', () => {
    const common = { labels: {}, drillable: false, gpu_count: 0, port: 22, user: 'ops' };
    expect(loadInventory(environment(SEED_LAB))).toEqual({
      hosts: [
        { ...common, node_id: 'dev-control-1', hostname: 'dev-control-1', role: 'platform_control', host: '100.90.157.34', host_key: KEY(2) },
        { ...common, node_id: 'dev-lab-1', hostname: 'dev-lab-1', role: 'app_control', host: '100.69.173.30', port: 2222, host_key: KEY(3), drillable: true },
        {
          ...common,
          node_id: 'gpu-a017',
          hostname: 'dev-gpu-1',
          role: 'worker_compute',
          host: '100.88.227.60',
          host_key: `${KEY(1)} root@dev-gpu-1`,
          gpu_count: 8,
          labels: { pool: 'h100-a', rack: 'r11' },
        },
        // In worker_compute through rack_r12, whose own vars (deeper) beat worker_compute's.
        {
          ...common,
          node_id: 'dev-gpu-2',
          hostname: 'dev-gpu-2',
          role: 'worker_compute',
          host: '100.88.227.61',
          port: 2202,
          user: 'root',
          host_key: KEY(4),
          gpu_count: 8,
          labels: { pool: 'h100-a', rack: 'r12' },
        },
      ],
    });
  });

  it("merges variables in Ansible's order: INI group vars, group_vars files, the host's line, host_vars", () => {
    const layered = (layers: number) =>
      environment({
        'hosts.ini': [
          '[worker_compute]',
          `gpu-1 gpuaas_host_key="${KEY(1)}"${layers >= 5 ? ' gpuaas_gpu_count=5' : ''}`,
          '[all:vars]',
          'gpuaas_gpu_count=1',
          ...(layers >= 2 ? ['[worker_compute:vars]', 'gpuaas_gpu_count=2'] : []),
        ].join('\n'),
        ...(layers >= 3 ? { 'group_vars/all.yml': 'gpuaas_gpu_count: 3\n' } : {}),
        ...(layers >= 4 ? { 'group_vars/worker_compute.yml': 'gpuaas_gpu_count: 4\n' } : {}),
        ...(layers >= 6 ? { 'host_vars/gpu-1.yml': 'gpuaas_gpu_count: 6\n' } : {}),
      });
    for (const layers of [1, 2, 3, 4, 5, 6]) expect([layers, loadInventory(layered(layers)).hosts[0]!.gpu_count]).toEqual([layers, layers]);
  });

  it('gives the engine inventory of the JSON the lab writes (the lab writes both)', () => {
    const specs = labHostSpecs(12, 5);
    const endpoints = new Map(specs.map((s, i) => [s.node_id, { host: '127.0.0.1', port: 40_000 + i, hostKey: KEY(i) }]));
    const custom: Inventory = {
      hosts: [
        {
          node_id: 'gpu-a017',
          hostname: 'gpu-a017.dc1',
          role: 'worker_compute',
          host: '10.20.3.17',
          port: 2022,
          user: 'ops',
          host_key: `${KEY(7)} c`,
          gpu_count: 4,
          labels: { rack: '12' },
          drillable: false,
        },
        {
          node_id: 'ctl-1',
          hostname: 'ctl-1',
          role: 'platform_control',
          host: 'fe80::1',
          port: 22,
          user: 'root',
          host_key: KEY(8),
          gpu_count: 0,
          labels: {},
          drillable: true,
        },
      ],
    };
    for (const inventory of [buildInventory(specs, endpoints), custom]) {
      const dir = path.join(root, `lab-${++seq}`);
      writeInventory(path.join(dir, 'inventory.json'), inventory);
      const hostsIni = writeAnsibleInventory(path.join(dir, 'ansible', 'inventory'), inventory);
      expect(hostsIni).toBe(path.join(dir, 'ansible', 'inventory', 'environments', LAB_ANSIBLE_ENVIRONMENT, 'hosts.ini'));
      const fromJson = loadInventory(path.join(dir, 'inventory.json'));
      expect(loadInventory(hostsIni)).toEqual(fromJson);
      expect(fromJson).toEqual(inventory);
    }
  });

  it('drops host_vars of hosts gone when the lab writes its inventory again', () => {
    const dir = path.join(root, `lab-${++seq}`, 'ansible', 'inventory');
    const specs = labHostSpecs(3);
    const endpoints = new Map(specs.map((s, i) => [s.node_id, { host: '127.0.0.1', port: 41_000 + i, hostKey: KEY(i) }]));
    writeAnsibleInventory(dir, buildInventory(specs, endpoints));
    const hostsIni = writeAnsibleInventory(dir, buildInventory(specs.slice(0, 3), endpoints));
    expect(fs.readdirSync(path.join(path.dirname(hostsIni), 'host_vars')).sort()).toEqual(['dev-control-1.yml', 'dev-gpu-1.yml', 'dev-lab-1.yml']);
    expect(loadInventory(hostsIni).hosts).toHaveLength(3);
  });
});

describe('refusals name the file and line', () => {
  it('a host in two role groups', () => {
    const file = environment({
      'hosts.ini': `[app_control]\ndev-lab-1 gpuaas_host_key="${KEY(1)}"\n\n[worker_compute]\ngpu-1 gpuaas_host_key="${KEY(2)}"\ndev-lab-1\n`,
    });
    expect(problemsOf(file)).toEqual([
      `${file}:6: host dev-lab-1 is in two role groups, app_control (line 2) and worker_compute (line 6); a host has exactly one role`,
    ]);
  });

  it('a host in two role groups through [group:children]', () => {
    const file = environment({
      'hosts.ini': `[worker_compute:children]\nrack_r1\n\n[app_control:children]\nrack_r1\n\n[rack_r1]\ngpu-1 gpuaas_host_key="${KEY(1)}"\n`,
    });
    expect(problemsOf(file)).toEqual([
      `${file}:8: host gpu-1 is in two role groups, app_control (line 8, in rack_r1) and worker_compute (line 8, in rack_r1); a host has exactly one role`,
    ]);
  });

  it('an unknown group: [x:vars] or [y:children] naming a group never declared, a host in no role group, an unknown section type', () => {
    const file = environment({
      'hosts.ini': [
        '[worker_compute:children]',
        'rack_r1',
        'rack_r2',
        '[rack_r1]',
        `gpu-1 gpuaas_host_key="${KEY(1)}"`,
        '[rack_r9:vars]',
        'gpuaas_label_rack=r9',
        '[worker_compte]',
        `gpu-2 gpuaas_host_key="${KEY(2)}"`,
        '[rack_r1:vals]',
        'gpuaas_label_rack=r1',
        'gpu-1',
      ].join('\n'),
    });
    expect(problemsOf(file)).toEqual([
      `${file}:10: [rack_r1:vals]: unknown section type; expected [rack_r1], [rack_r1:vars] or [rack_r1:children]`,
      `${file}:6: [rack_r9:vars]: no group rack_r9 is declared ([rack_r9] or [rack_r9:children])`,
      `${file}:3: [worker_compute:children]: no group rack_r2 is declared ([rack_r2] or [rack_r2:children])`,
      `${file}:9: host gpu-2 is in no role group (only in worker_compte): list it under [platform_control], [app_control] or [worker_compute]`,
    ]);
  });

  it('a bad port, on the host line or in host_vars (file and key)', () => {
    const file = environment({
      'hosts.ini': `[worker_compute]\ngpu-1 ansible_port=70000 gpuaas_host_key="${KEY(1)}"\ngpu-2 gpuaas_host_key="${KEY(2)}"\ngpu-3:0 gpuaas_host_key="${KEY(3)}"\n`,
      'host_vars/gpu-2.yml': '# gpu-2\nansible_port: ssh\n',
    });
    const hostVars = path.join(path.dirname(file), 'host_vars', 'gpu-2.yml');
    expect(problemsOf(file)).toEqual([
      `${file}:2: ansible_port: Number must be less than or equal to 65535 (got "70000")`,
      `${hostVars}:2: ansible_port: Expected number, received string (got "ssh")`,
      `${file}:4: ansible_port: Number must be greater than or equal to 1 (got "0")`,
    ]);
  });

  it('a missing host key, and a bad one in a group_vars file', () => {
    const file = environment({
      'hosts.ini': `[platform_control]\nctl-1\n\n[worker_compute]\ngpu-1\n`,
      'group_vars/worker_compute.yml': 'gpuaas_gpu_count: 8\ngpuaas_host_key: AAAA-not-a-key\n',
    });
    const groupVars = path.join(path.dirname(file), 'group_vars', 'worker_compute.yml');
    expect(problemsOf(file)).toEqual([
      `${file}:2: host ctl-1: gpuaas_host_key is not set (on the host's line, in host_vars/ctl-1.yml or in its groups' vars)`,
      `${groupVars}:2: gpuaas_host_key: expected an OpenSSH public key line (got "AAAA-not-a-key")`,
    ]);
  });

  it('unknown gpuaas_ variables, duplicate node ids, lines that cannot be read, bad YAML', () => {
    const file = environment({
      'hosts.ini': [
        '[worker_compute]',
        `gpu-1 gpuaas_gpus=8 gpuaas_host_key="${KEY(1)}"`,
        `gpu-2 gpuaas_node_id=gpu-1 gpuaas_host_key="${KEY(2)}"`,
        'gpu-[3:9]',
        'gpu-10 stray',
        '[worker_compute:vars]',
        'no equals sign',
      ].join('\n'),
      'group_vars/worker_compute.yml': 'gpuaas_gpu_count: [8\n',
    });
    const groupVars = path.join(path.dirname(file), 'group_vars', 'worker_compute.yml');
    expect(problemsOf(file)).toEqual([
      `${file}:4: host ranges (gpu-[3:9]) are not read: list each host on its own line`,
      `${file}:5: host gpu-10: expected key=value after the host name, got "stray"`,
      `${file}:7: [worker_compute:vars]: expected key=value, got "no equals sign"`,
      expect.stringMatching(new RegExp(`^${groupVars.replace(/[.]/g, '\\.')}:2: not valid YAML: `)),
      `${file}:2: unknown variable gpuaas_gpus (known: gpuaas_node_id, gpuaas_host_key, gpuaas_gpu_count, gpuaas_drillable, gpuaas_label_<name>)`,
      `${file}:3: gpuaas_node_id: duplicate node_id gpu-1 (got "gpu-1")`,
    ]);
  });

  it('groups that contain themselves', () => {
    const file = environment({
      'hosts.ini': `[worker_compute:children]\nrack_r1\n[rack_r1:children]\nrow_a\n[row_a:children]\nrack_r1\n[row_a]\ngpu-1 gpuaas_host_key="${KEY(1)}"\n`,
    });
    expect(problemsOf(file)).toEqual([
      `${file}:4: [rack_r1:children]: row_a is also above rack_r1; groups may not contain themselves`,
      `${file}:6: [row_a:children]: rack_r1 is also above row_a; groups may not contain themselves`,
    ]);
  });

  it('an inventory without a host in any role group', () => {
    const file = environment({ 'hosts.ini': '# nothing yet\n[worker_compute]\n' });
    expect(problemsOf(file)).toEqual([`${file}: no hosts: list them under [platform_control], [app_control] or [worker_compute]`]);
  });
});
