// What GPU support puts into the machine, from the host's facts: the device nodes (bound, and
// allowed by their numbers) and the driver files bound read-only, each as host source and path
// inside the machine (the same unless the host root is not "/").
import { join } from "node:path";
import type { GpuDevice, NvidiaHost } from "../host/nvidia";

export interface Bind {
  /** on the host */
  source: string;
  /** inside the machine */
  path: string;
}

export interface GpuBinds {
  devices: Array<GpuDevice & Bind>;
  /** libraries, binaries and the firmware dir */
  files: Bind[];
}

export interface GpuSetting {
  hostRoot: string;
  /** the host's NVIDIA facts when GPU support is on */
  on?: NvidiaHost;
}

export function gpuBinds(gpu: GpuSetting): GpuBinds | undefined {
  const host = gpu.on;
  if (!host) return undefined;
  const bind = (path: string): Bind => ({ source: join(gpu.hostRoot, path), path });
  return {
    devices: host.devices.map((d) => ({ ...d, ...bind(d.path) })),
    files: [...host.libraries, ...host.binaries, ...(host.firmware ? [host.firmware] : [])].map(bind),
  };
}
