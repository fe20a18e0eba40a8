/** A drill scenario aimed at its node: `{node}` filled in everywhere, and the run input each runbook declares. */
import { drillOf, scenarioFor } from '../../domain/drills';
import { findRunbook } from '../../api/runbook-registry';
import { APP_INSTANCE_DEPLOY_DRILLS } from '../../runbooks/app-instance-deploy/drills';
import { GPU_FAULT_DRILLS } from '../../runbooks/gpu-fault-remediation/drills';

test('every {node} in the fault path, body and input becomes the node id; nothing else changes', () => {
  const aimed = scenarioFor(
    {
      name: 's',
      summary: 'x',
      fault: { path: '/lab/v1/hosts/{node}/faults/xid', body: { id: 'drill-{node}', faults: [{ node_id: '{node}', n: 3 }], flag: true } },
      input: { app_instance_id: 'drill-a-{node}', poll_interval: '1s' },
      expect: { outcome: 'running' },
    },
    'dev-gpu-7',
  );
  expect(aimed.fault).toEqual({
    path: '/lab/v1/hosts/dev-gpu-7/faults/xid',
    body: { id: 'drill-dev-gpu-7', faults: [{ node_id: 'dev-gpu-7', n: 3 }], flag: true },
  });
  expect(aimed.input).toEqual({ app_instance_id: 'drill-a-dev-gpu-7', poll_interval: '1s' });
});

test('a gpu-fault drill passes the node as node_id; an app-instance-deploy drill names its instance instead, and both validate', () => {
  const gpu = findRunbook('gpu-fault-remediation')!;
  const transient = drillOf(gpu, GPU_FAULT_DRILLS[0]!, 'dev-gpu-3');
  expect(transient.runInput).toEqual({ poll_interval: '1s', node_id: 'dev-gpu-3' });
  expect(gpu.schema.safeParse({ ...transient.runInput, run_mode: 'drill' }).success).toBe(true);

  const deploy = findRunbook('app-instance-deploy')!;
  for (const scenario of APP_INSTANCE_DEPLOY_DRILLS) {
    const { runInput, scenario: aimed } = drillOf(deploy, scenario, 'dev-gpu-1');
    expect(runInput).not.toHaveProperty('node_id');
    expect(runInput['app_instance_id']).toBe((aimed.fault!.body as { id: string }).id);
    expect(runInput['app_instance_id']).toMatch(/^drill-[a-z0-9]+-dev-gpu-1$/);
    const parsed = deploy.schema.safeParse({ ...runInput, run_mode: 'drill' });
    expect(parsed.success).toBe(true);
    expect(deploy.workflowId(parsed.data)).toBe(`app-instance-deploy/proj-lab/${runInput['app_instance_id']}`);
  }
  // Each scenario has an instance of its own, so drills of two modes on one node never share a run.
  expect(new Set(APP_INSTANCE_DEPLOY_DRILLS.map((s) => drillOf(deploy, s, 'dev-gpu-1').runInput['app_instance_id'])).size).toBe(
    APP_INSTANCE_DEPLOY_DRILLS.length,
  );
});
