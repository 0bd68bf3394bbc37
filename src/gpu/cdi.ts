// The CDI spec containerd reads inside the machine (/etc/cdi/nvidia.yaml): one CDI device per
// GPU (nvidia.com/gpu=0, =1, …) and =all, the control nodes, the driver files mounted
// read-only, and the hook that makes a container's dynamic linker find them.
import { dirname } from "node:path";
import type { GpuDevice, NvidiaHost } from "../host/nvidia";
import { gpuIndexes } from "../host/nvidia";

export const CDI_SPEC_DIRS = ["/etc/cdi", "/var/run/cdi"];
export const CDI_SPEC_FILE = "/etc/cdi/nvidia.yaml";
const CDI_KIND = "nvidia.com/gpu";
/**
 * The lowest spec version whose loaders accept a device name starting with a digit (added in
 * 0.5.0) and that has every field written here; containerd 1.7 (CDI library 0.5) and 2.x read it.
 */
export const CDI_VERSION = "0.5.0";
export const LDCACHE_HOOK = "/usr/local/libexec/kube-rootfs/cdi-ldcache";

const node = (d: GpuDevice) => ({ path: d.path, type: "c", major: d.major, minor: d.minor, permissions: "rw" });

/** The spec for the machine; paths are as the machine sees them (containerd runs there). */
export function renderCdiSpec(host: Pick<NvidiaHost, "devices" | "libraries" | "binaries">): string {
  const gpu = (i: number) => host.devices.find((d) => d.path === `/dev/nvidia${i}`)!;
  const indexes = gpuIndexes(host.devices);
  // Every container given a GPU also needs the driver's shared nodes; MIG capabilities
  // (nvidia-caps) are left to a MIG-aware spec.
  const shared = host.devices.filter((d) => /^\/dev\/nvidia(ctl|-uvm|-uvm-tools|-modeset)$/.test(d.path));
  const mount = (path: string) => ({ hostPath: path, containerPath: path, options: ["ro", "nosuid", "nodev", "bind"] });
  const libDirs = [...new Set(host.libraries.map((l) => dirname(l)))];
  const spec = {
    cdiVersion: CDI_VERSION,
    kind: CDI_KIND,
    devices: [
      ...indexes.map((i) => ({ name: String(i), containerEdits: { deviceNodes: [node(gpu(i))] } })),
      { name: "all", containerEdits: { deviceNodes: indexes.map((i) => node(gpu(i))) } },
    ],
    containerEdits: {
      deviceNodes: shared.map(node),
      mounts: [...host.libraries, ...host.binaries].map(mount),
      hooks: [{ hookName: "createContainer", path: LDCACHE_HOOK, args: ["cdi-ldcache", ...libDirs] }],
    },
  };
  return `# written by kube-rootfs from the host's NVIDIA driver; changes are replaced on the next provision.\n${Bun.YAML.stringify(spec, null, 2)}\n`;
}
