/**
 * Every command the platform-app runbooks run on a host, as argv arrays (the SSH layer
 * quotes each argument). Reads of the controller and Slurm run on the app_control host;
 * reads and repairs of the node-agent on the worker it belongs to. Pure: plan mode
 * shows exactly these.
 */
export const CONTROLLER_UNIT = 'slurm-reference-controller';
export const CONTROLLER_ENV = '/etc/gpuaas/slurm-reference-controller.env';
export const CONTROLLER_INSTALLER = '/opt/gpuaas/bin/install-controller';
export const AGENT_UNIT = 'gpuaas-node-agent';
export const AGENT_ENV = '/etc/gpuaas/node-agent.env';
export const AGENT_CERT = '/var/lib/gpuaas/node-agent/node.crt';
export const AGENT_KEY = '/var/lib/gpuaas/node-agent/node.key';
export const HOSTS_FILE = '/etc/hosts';
/** Journal lines read per service: enough for the last restarts of a chatty agent. */
export const JOURNAL_LINES = 200;

export const unitActiveCommand = (unit: string): string[] => ['systemctl', 'is-active', unit];
export const unitStartCommand = (unit: string): string[] => ['systemctl', 'start', unit];
export const unitRestartCommand = (unit: string): string[] => ['systemctl', 'restart', unit];
export const unitJournalCommand = (unit: string, lines = JOURNAL_LINES): string[] => ['journalctl', '-u', unit, '-n', String(lines), '--no-pager'];
export const readFileCommand = (path: string): string[] => ['cat', path];
export const installControllerCommand = (build: string): string[] => [CONTROLLER_INSTALLER, build];
export const resolveNameCommand = (name: string): string[] => ['getent', 'hosts', name];
export const certEndDateCommand = (path = AGENT_CERT): string[] => ['openssl', 'x509', '-enddate', '-noout', '-in', path];
/** Keeps the stale file beside the new one, named after the run that moved it. */
export const moveAsideCommand = (path: string, tag: string): string[] => ['mv', '-f', path, `${path}.stale-${tag}`];
/** Writes a whole file from the command's stdin (a secret never appears in argv). */
export const writeFileCommand = (path: string, mode: string): string[] => ['install', '-m', mode, '/dev/stdin', path];
export const sinfoNodesCommand = (): string[] => ['sinfo', '-h', '-N', '-o', '%N %T %G'];
export const scontrolShowNodeCommand = (node: string): string[] => ['scontrol', 'show', 'node', node];

/** The allocation user's authorized_keys (the user name is checked by the caller: a plain Linux login). */
export const authorizedKeysPath = (user: string): string => `/home/${user}/.ssh/authorized_keys`;
