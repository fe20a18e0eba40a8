import type { DrillScenario } from '../../domain/drills';

/** The gpu-fault-remediation drills, rehearsed on drillable hosts only (run_mode: drill). */
export const GPU_FAULT_DRILLS: readonly DrillScenario[] = [
  {
    name: 'transient-xid',
    summary: 'a transient double-bit ECC error (Xid 48) on GPU 3: drained, reset, diag passes, back in service',
    fault: { path: '/lab/v1/hosts/{node}/faults/xid', body: { gpu_index: 3, xid: 48 } },
    input: { poll_interval: '1s' },
    expect: { outcome: 'returned_to_service' },
  },
  {
    name: 'persistent-fault-rma',
    summary: 'a persistent memory fault on GPU 5: the diag fails, the run asks for an RMA, the drill declines, the node is held for an operator',
    fault: { path: '/lab/v1/hosts/{node}/faults/xid', body: { gpu_index: 5, xid: 48, persistent: true } },
    input: { poll_interval: '1s' },
    approvals: { approve_rma: 'reject' },
    expect: { outcome: 'held_for_operator' },
  },
  {
    name: 'wrong-role-refused',
    summary: 'a GPU fault run aimed at a control host is refused before any SSH (target a platform_control or app_control host)',
    expect: { failure: 'HostRoleViolation' },
  },
];
