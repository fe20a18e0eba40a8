/** `nvidia-smi --query-compute-apps=gpu_uuid,pid,used_gpu_memory --format=csv,noheader,nounits` rows. */
export interface GpuProcessRow {
  gpu_uuid: string;
  pid: number;
  /** null when NVML cannot tell ("[N/A]", e.g. under some virtualisation). */
  used_mib: number | null;
}

export function parseGpuProcesses(stdout: string): GpuProcessRow[] {
  const out: GpuProcessRow[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.trim() || /^No running processes found/i.test(line.trim())) continue;
    const [uuid = '', pid = '', used = ''] = line.split(',').map((c) => c.trim());
    if (!/^GPU-/.test(uuid) || !/^\d+$/.test(pid)) throw new SyntaxError(`unexpected compute-apps line: ${line.slice(0, 200)}`);
    out.push({ gpu_uuid: uuid, pid: Number(pid), used_mib: /^\d+$/.test(used) ? Number(used) : null });
  }
  return out;
}
