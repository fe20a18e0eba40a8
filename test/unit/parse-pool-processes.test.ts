import { parseGpuProcesses } from '../../capabilities/orchestrator/parse-gpu-processes';
import { isWorkerOf, parseProcesses } from '../../capabilities/orchestrator/parse-processes';

describe('ps -o pid=,lstart=,user=,rss=,args=', () => {
  const out = [
    ' 4242 Wed Apr  8 10:00:00 2026 gpuorch   2097152 /opt/gpu-orchestrator/venv/bin/python3 -m gpu_orchestrator.worker --pool pool-a --model llama-3-8b --gpu 0',
    '31337 Thu Dec  3 16:45:01 2026 tenant-7  3145728 /usr/bin/python3 /home/tenant-7/train.py --pool pool-a',
    '',
  ].join('\n');

  it('reads each process with its start time as its identity', () => {
    expect(parseProcesses(out)).toEqual([
      {
        pid: 4242,
        started: 'Wed Apr 8 10:00:00 2026',
        user: 'gpuorch',
        rss_kib: 2097152,
        args: '/opt/gpu-orchestrator/venv/bin/python3 -m gpu_orchestrator.worker --pool pool-a --model llama-3-8b --gpu 0',
      },
      expect.objectContaining({ pid: 31337, user: 'tenant-7' }),
    ]);
    expect(parseProcesses('')).toEqual([]);
    expect(() => parseProcesses('  PID STARTED')).toThrow(/unexpected ps line/);
  });

  it('calls a process a worker of a pool only when it runs the worker module with exactly that --pool', () => {
    const [worker, tenant] = parseProcesses(out);
    expect(isWorkerOf(worker!, 'pool-a')).toBe(true);
    expect(isWorkerOf(worker!, 'pool-a2')).toBe(false);
    expect(isWorkerOf(worker!, 'pool')).toBe(false);
    // An argv that merely mentions the pool is not its worker.
    expect(isWorkerOf(tenant!, 'pool-a')).toBe(false);
  });
});

describe('nvidia-smi --query-compute-apps=gpu_uuid,pid,used_gpu_memory --format=csv,noheader,nounits', () => {
  it('reads each process, an unknown size as null, and no processes as none', () => {
    const out = 'GPU-1b2c3d4e-0000-1111-2222-333344445555, 4242, 18432\nGPU-1b2c3d4e-0000-1111-2222-333344445555, 777, [N/A]\n';
    expect(parseGpuProcesses(out)).toEqual([
      { gpu_uuid: 'GPU-1b2c3d4e-0000-1111-2222-333344445555', pid: 4242, used_mib: 18432 },
      { gpu_uuid: 'GPU-1b2c3d4e-0000-1111-2222-333344445555', pid: 777, used_mib: null },
    ]);
    expect(parseGpuProcesses('No running processes found\n')).toEqual([]);
    expect(() => parseGpuProcesses('pid, used_gpu_memory [MiB]')).toThrow(/unexpected compute-apps line/);
  });
});
