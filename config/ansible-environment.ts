/**
 * Which file INVENTORY_FILE means. Seed 002 keeps one Ansible inventory per environment,
 * infra/ansible/inventory/environments/<env>/hosts.ini, and names the environment twice in
 * its commands (`GPUAAS_ENVIRONMENT=dev ansible-playbook -i .../environments/dev/hosts.ini`).
 * INVENTORY_FILE may be that hosts.ini, the environment's folder, the environments folder or
 * the inventory root; GPUAAS_ENVIRONMENT picks the environment in the last two, and must
 * agree with the first two.
 */
import fs from 'node:fs';
import path from 'node:path';

export const ENVIRONMENTS_FOLDER = 'environments';
export const ANSIBLE_HOSTS_FILE = 'hosts.ini';

export type InventoryFileChoice = { file: string } | { problem: { variable: 'INVENTORY_FILE' | 'GPUAAS_ENVIRONMENT'; message: string } };

/** `inventoryFile` exists. A JSON or YAML file is returned as it is; GPUAAS_ENVIRONMENT is read only for an Ansible inventory. */
export function chooseInventoryFile(inventoryFile: string, environment: string | undefined): InventoryFileChoice {
  if (fs.statSync(inventoryFile).isFile()) {
    return path.extname(inventoryFile).toLowerCase() === '.ini' ? checkEnvironment(inventoryFile, environment) : { file: inventoryFile };
  }
  const here = path.join(inventoryFile, ANSIBLE_HOSTS_FILE);
  if (fs.existsSync(here)) return checkEnvironment(here, environment);

  const environments = fs.existsSync(path.join(inventoryFile, ENVIRONMENTS_FOLDER)) ? path.join(inventoryFile, ENVIRONMENTS_FOLDER) : inventoryFile;
  const available = fs
    .readdirSync(environments)
    .filter((name) => fs.existsSync(path.join(environments, name, ANSIBLE_HOSTS_FILE)))
    .sort();
  if (available.length === 0) {
    return {
      problem: {
        variable: 'INVENTORY_FILE',
        message: `no ${ANSIBLE_HOSTS_FILE} in ${inventoryFile} nor in ${path.join(environments, '<environment>')}: expected a JSON or YAML inventory, an Ansible ${ANSIBLE_HOSTS_FILE} or an inventory folder`,
      },
    };
  }
  if (!environment) {
    return {
      problem: {
        variable: 'GPUAAS_ENVIRONMENT',
        message: `required when INVENTORY_FILE is an inventory folder (${inventoryFile} has ${available.join(', ')})`,
      },
    };
  }
  if (!available.includes(environment)) {
    return { problem: { variable: 'GPUAAS_ENVIRONMENT', message: `no environment ${environment} in ${environments} (there: ${available.join(', ')})` } };
  }
  return { file: path.join(environments, environment, ANSIBLE_HOSTS_FILE) };
}

/** A hosts.ini under environments/<env>/ belongs to <env>: GPUAAS_ENVIRONMENT, when set, must name it. */
function checkEnvironment(hostsFile: string, environment: string | undefined): InventoryFileChoice {
  const folder = path.dirname(path.resolve(hostsFile));
  const own = path.basename(path.dirname(folder)) === ENVIRONMENTS_FOLDER ? path.basename(folder) : undefined;
  if (environment && own && own !== environment) {
    return { problem: { variable: 'GPUAAS_ENVIRONMENT', message: `${environment}, but INVENTORY_FILE is environment ${own}'s ${hostsFile}` } };
  }
  return { file: hostsFile };
}
