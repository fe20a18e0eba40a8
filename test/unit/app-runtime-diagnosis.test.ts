/**
 * The host tools the platform-app runbooks read (openssl, getent, Slurm's node views,
 * the node-agent's journal), parsed from their real output formats, and the seed's
 * failure modes diagnosed from them in the order their owning boundary is fixed.
 */
import { agentJournalFindings, latestAgentSign } from '../../capabilities/app-runtime/node-agent-journal';
import { parseGetentHosts, resolvedAddress } from '../../capabilities/app-runtime/parse-getent-hosts';
import { parseOpensslEndDate } from '../../capabilities/app-runtime/parse-openssl-enddate';
import { parseScontrolShowNode, parseSinfoNodes } from '../../capabilities/app-runtime/parse-slurm';
import { compareBuilds, diagnoseDeploy, type DeployObservations } from '../../domain/app-runtime-failures';

const NODE_API = 'node-api.100-90-157-34.sslip.io';
const CONTROL_PLANE = '10.176.46.104';

describe('openssl x509 -enddate', () => {
  test('reads the GMT date with its padded day; anything else is null', () => {
    expect(parseOpensslEndDate('notAfter=Apr  8 10:00:00 2026 GMT\n')).toEqual(new Date('2026-04-08T10:00:00Z'));
    expect(parseOpensslEndDate('notAfter=Dec 31 23:59:59 2027 GMT')).toEqual(new Date('2027-12-31T23:59:59Z'));
    expect(parseOpensslEndDate('Could not open file or uri for loading certificate from /var/lib/gpuaas/node-agent/node.crt\n')).toBeNull();
    expect(parseOpensslEndDate('notAfter=Feb 30 10:00:00 2026 GMT')).toBeNull();
  });
});

describe('getent hosts', () => {
  test('address and names per line; exit 2 or another name is no answer', () => {
    const out = `${CONTROL_PLANE}   ${NODE_API} api.100-90-157-34.sslip.io\n`;
    expect(parseGetentHosts(out)).toEqual([{ address: CONTROL_PLANE, names: [NODE_API, 'api.100-90-157-34.sslip.io'] }]);
    expect(resolvedAddress(out, 0, NODE_API)).toBe(CONTROL_PLANE);
    expect(resolvedAddress('', 2, NODE_API)).toBeNull();
    expect(resolvedAddress(out, 0, 'other.example')).toBeNull();
  });
});

describe('Slurm node views', () => {
  const scontrol = [
    'NodeName=dev-gpu-1 Arch=x86_64 CoresPerSocket=32 ',
    '   CPUAlloc=0 CPUEfctv=128 CPUTot=128 CPULoad=0.05',
    '   AvailableFeatures=(null)',
    '   Gres=gpu:h100:8(S:0-1)',
    '   NodeAddr=10.0.0.5 NodeHostName=dev-gpu-1 Version=23.11.4',
    '   OS=Linux 6.8.0-45-generic #45-Ubuntu SMP PREEMPT_DYNAMIC ',
    '   RealMemory=1031000 AllocMem=0 FreeMem=1020000 Sockets=2 Boards=1',
    '   State=IDLE ThreadsPerCore=2 TmpDisk=0 Weight=1 Owner=N/A MCS_label=N/A',
    '   Partitions=gpu ',
    '   CfgTRES=cpu=128,mem=1031000M,billing=128,gres/gpu=8',
    '',
    'NodeName=dev-gpu-2 CoresPerSocket=32 ',
    '   Gres=gpu:h100:8(S:0-1)',
    '   State=DOWN+DRAIN* ThreadsPerCore=2',
    '   Reason=Not responding [slurm@2026-12-03T08:00:00]',
    '',
  ].join('\n');

  test('scontrol show node: values with spaces, state flags, GPUs from gres', () => {
    expect(parseScontrolShowNode(scontrol)).toEqual([
      { name: 'dev-gpu-1', state: 'idle', flags: [], gpus: 8, gres: 'gpu:h100:8(S:0-1)', reason: null },
      {
        name: 'dev-gpu-2',
        state: 'down',
        flags: ['DRAIN', 'NOT_RESPONDING'],
        gpus: 8,
        gres: 'gpu:h100:8(S:0-1)',
        reason: 'Not responding [slurm@2026-12-03T08:00:00]',
      },
    ]);
  });

  test("sinfo -h -N -o '%N %T %G'", () => {
    expect(parseSinfoNodes('dev-gpu-1 idle gpu:h100:8\ndev-gpu-3 mixed gpu:4,gpu:a100:4\n')).toEqual([
      { name: 'dev-gpu-1', state: 'idle', flags: [], gpus: 8, gres: 'gpu:h100:8', reason: null },
      { name: 'dev-gpu-3', state: 'mixed', flags: [], gpus: 8, gres: 'gpu:4,gpu:a100:4', reason: null },
    ]);
  });
});

describe('node-agent journal', () => {
  const journal = [
    'Dec 03 08:00:01 dev-gpu-1 gpuaas-node-agent[812]: heartbeat queued (3 pending)',
    `Dec 03 08:00:02 dev-gpu-1 gpuaas-node-agent[812]: dial tcp: lookup ${NODE_API}: no such host`,
    'Dec 03 08:00:05 dev-gpu-1 gpuaas-node-agent[812]: local certificate expired (notAfter=Apr  8 10:00:00 2026 GMT)',
    'Dec 03 08:01:00 dev-gpu-1 systemd[1]: Started gpuaas-node-agent.service - GPUaaS node agent.',
    'Dec 03 08:01:01 dev-gpu-1 gpuaas-node-agent[901]: enrollment failed: 401 token_invalid',
  ].join('\n');

  test('every line about the link, and the latest one decides', () => {
    expect(agentJournalFindings(journal).map((f) => f.sign)).toEqual(['name_unresolved', 'cert_expired', 'token_invalid']);
    expect(latestAgentSign(journal)?.sign).toBe('token_invalid');
    expect(latestAgentSign(`${journal}\nDec 03 08:02:00 dev-gpu-1 gpuaas-node-agent[950]: node certificate enrolled`)?.sign).toBe('enrolled');
  });
});

describe('failure modes of a deploy stuck in deploying', () => {
  const NOW = '2026-12-03T08:00:00Z';
  const healthy: DeployObservations = {
    now: NOW,
    controller: { running: true, build: '1.5.0' },
    knownGoodBuild: '1.5.0',
    member: { hostname: 'j27u15', last_error: null },
    agent: {
      running: true,
      nodeApiName: NODE_API,
      resolvedTo: CONTROL_PLANE,
      controlPlaneAddress: CONTROL_PLANE,
      certNotAfter: '2027-12-03T08:00:00Z',
      journal: { sign: 'connected', line: 'connected to node-api' },
    },
    queuedTasks: 0,
  };
  const modes = (o: DeployObservations) => diagnoseDeploy(o).map((f) => f.mode);

  test('nothing holds on a healthy instance', () => {
    expect(diagnoseDeploy(healthy)).toEqual([]);
  });

  test('each mode alone', () => {
    expect(modes({ ...healthy, controller: { running: false, build: null } })).toEqual(['no_controller']);
    expect(modes({ ...healthy, member: { hostname: 'j27u15', last_error: 'ssh: Could not resolve hostname j27u15: Name or service not known' } })).toEqual([
      'controller_dials_hostname',
    ]);
    expect(modes({ ...healthy, controller: { running: true, build: '1.4.2' } })).toEqual(['controller_dials_hostname']);
    expect(modes({ ...healthy, agent: { ...healthy.agent, resolvedTo: null, journal: { sign: 'name_unresolved', line: 'lookup: no such host' } } })).toEqual([
      'node_api_unreachable',
    ]);
    expect(modes({ ...healthy, agent: { ...healthy.agent, certNotAfter: '2026-04-08T10:00:00Z' } })).toEqual(['agent_cert_expired']);
    expect(modes({ ...healthy, agent: { ...healthy.agent, certNotAfter: null, journal: { sign: 'token_invalid', line: '401 token_invalid' } } })).toEqual([
      'enrollment_token_stale',
    ]);
  });

  test('the incident behind the page: unreachable name, expired cert and queued tasks, owning boundary first; the controller is fine', () => {
    const found = diagnoseDeploy({
      ...healthy,
      agent: { ...healthy.agent, resolvedTo: null, certNotAfter: '2026-04-08T10:00:00Z', journal: { sign: 'no_route', line: 'connect: no route to host' } },
      queuedTasks: 2,
    });
    expect(found.map((f) => [f.mode, f.boundary, f.fix])).toEqual([
      ['node_api_unreachable', 'worker_compute', 'restore_node_api_mapping'],
      ['agent_cert_expired', 'worker_compute', 'rotate_agent_certificate'],
      ['bootstrap_tasks_queued', 'worker_compute', 'reconcile_bootstrap_ssh'],
    ]);
    expect(found[0]!.evidence).toContain(`resolves to nothing on the bound node, not ${CONTROL_PLANE}`);
  });

  test('controller fixes need an approval; node-agent fixes do not', () => {
    const all = diagnoseDeploy({
      ...healthy,
      controller: { running: false, build: '1.4.0' },
      agent: { ...healthy.agent, resolvedTo: null, journal: { sign: 'token_invalid', line: '401 token_invalid' } },
    });
    expect(all.map((f) => [f.mode, f.needsApproval])).toEqual([
      ['no_controller', true],
      ['node_api_unreachable', false],
      ['enrollment_token_stale', false],
    ]);
  });

  test('builds compare numerically', () => {
    expect(compareBuilds('1.4.9', '1.5.0')).toBe(-1);
    expect(compareBuilds('1.10.0', '1.5.0')).toBe(1);
    expect(compareBuilds('1.5', '1.5.0')).toBe(0);
  });
});
