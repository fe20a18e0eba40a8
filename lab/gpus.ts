/**
 * Static identity of the lab's simulated GPUs: an 8x H100 SXM board layout with
 * stable UUIDs and serials derived from the node id, so they survive restarts.
 */
import { createHash } from 'node:crypto';

export const GPUS_PER_NODE = 8;
export const GPU_NAME = 'NVIDIA H100 80GB HBM3';
export const DRIVER_VERSION = '550.90.07';
export const MEMORY_TOTAL_MIB = 81559;
/** PCI device id of the H100 SXM5 80GB, as DCGM reports it in entity_groups. */
export const PCI_DEVICE_ID = '2330';

/** PCI bus numbers of the eight GPUs of a typical HGX H100 board. */
const PCI_BUSES = ['18', '2A', '3A', '5D', '9A', 'AB', 'BA', 'DB'];
const IDLE_TEMPERATURES = [33, 35, 32, 34, 36, 33, 35, 34];

export interface GpuIdentity {
  index: number;
  uuid: string;
  /** nvidia-smi form: "00000000:18:00.0". */
  pci_bus_id: string;
  /** Kernel/Xid form: "0000:18:00". */
  kernel_pci: string;
  serial: string;
  idle_temperature_c: number;
}

function digest(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function gpuUuid(nodeId: string, index: number): string {
  const h = digest(`lab-gpu-uuid:${nodeId}:${index}`);
  return `GPU-${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

function gpuSerial(nodeId: string, index: number): string {
  const n = BigInt(`0x${digest(`lab-gpu-serial:${nodeId}:${index}`).slice(0, 12)}`) % 10_000_000_000n;
  return `165${n.toString().padStart(10, '0')}`;
}

export function gpuIdentities(nodeId: string, count = GPUS_PER_NODE): GpuIdentity[] {
  return Array.from({ length: count }, (_, index) => {
    const bus = PCI_BUSES[index % PCI_BUSES.length] ?? '18';
    return {
      index,
      uuid: gpuUuid(nodeId, index),
      pci_bus_id: `00000000:${bus}:00.0`,
      kernel_pci: `0000:${bus.toLowerCase()}:00`,
      serial: gpuSerial(nodeId, index),
      idle_temperature_c: IDLE_TEMPERATURES[index % IDLE_TEMPERATURES.length] ?? 34,
    };
  });
}
