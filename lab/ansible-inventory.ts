/**
 * The lab's hosts as an Ansible inventory in seed 002's layout, beside its inventory.json:
 * <root>/environments/lab/hosts.ini (the role groups, each host's address, port and user on its
 * line) and host_vars/<host>.yml (host key, GPUs, labels). The engine reads either one alike.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { quote } from 'shell-quote';
import YAML from 'yaml';
import { ANSIBLE_HOSTS_FILE, ENVIRONMENTS_FOLDER } from '../config/ansible-environment';
import { ANSIBLE_VARIABLES, LABEL_VARIABLE_PREFIX } from '../config/ansible-inventory';
import type { Inventory, InventoryHost } from '../domain/inventory';

/** GPUAAS_ENVIRONMENT of the lab's Ansible inventory. */
export const LAB_ANSIBLE_ENVIRONMENT = 'lab';

/** Writes the inventory under `root` (replacing what an earlier start wrote there); returns the path of its hosts.ini. */
export function writeAnsibleInventory(root: string, inventory: Inventory): string {
  const environment = join(root, ENVIRONMENTS_FOLDER, LAB_ANSIBLE_ENVIRONMENT);
  // Written aside and moved in whole, so no reader sees half an inventory or host_vars of hosts gone since.
  const staging = `${environment}.${process.pid}.tmp`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(join(staging, 'host_vars'), { recursive: true });
  const names = new Set<string>();
  for (const host of inventory.hosts) {
    if (names.has(host.hostname)) throw new Error(`two hosts are named ${host.hostname}: an Ansible inventory names each host once`);
    names.add(host.hostname);
    writeFileSync(join(staging, 'host_vars', `${host.hostname}.yml`), YAML.stringify(hostVars(host)));
  }
  // A section per run of hosts of one role keeps the hosts in the inventory's order (the reader keeps the file's).
  const lines = ['# Written by the lab at each start (lab/ansible-inventory.ts).'];
  inventory.hosts.forEach((host, i) => {
    if (host.role !== inventory.hosts[i - 1]?.role) lines.push('', `[${host.role}]`);
    lines.push(hostLine(host));
  });
  writeFileSync(join(staging, ANSIBLE_HOSTS_FILE), `${lines.join('\n')}\n`);
  rmSync(environment, { recursive: true, force: true });
  renameSync(staging, environment);
  return join(environment, ANSIBLE_HOSTS_FILE);
}

function hostLine(host: InventoryHost): string {
  const vars = { [ANSIBLE_VARIABLES.host]: host.host, [ANSIBLE_VARIABLES.port]: String(host.port), [ANSIBLE_VARIABLES.user]: host.user };
  return [quote([host.hostname]), ...Object.entries(vars).map(([name, value]) => `${name}=${quote([value])}`)].join(' ');
}

function hostVars(host: InventoryHost): Record<string, unknown> {
  return {
    // The inventory hostname is the node id unless it says otherwise.
    ...(host.node_id === host.hostname ? {} : { [ANSIBLE_VARIABLES.node_id]: host.node_id }),
    [ANSIBLE_VARIABLES.host_key]: host.host_key,
    [ANSIBLE_VARIABLES.gpu_count]: host.gpu_count,
    [ANSIBLE_VARIABLES.drillable]: host.drillable,
    ...Object.fromEntries(Object.entries(host.labels).map(([label, value]) => [`${LABEL_VARIABLE_PREFIX}${label}`, value])),
  };
}
