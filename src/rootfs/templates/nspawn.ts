// The machine's systemd.nspawn(5) settings: host network, all capabilities, the node's devices.
import type { Bind, GpuBinds } from "../../gpu/binds";

export interface NspawnInput {
  machine: string;
  hostModules: boolean;
  hostDevices: string[];
  gpuBinds?: GpuBinds;
}

const bindArg = (b: Bind) => (b.source === b.path ? b.path : `${b.source}:${b.path}`);

export function renderNspawn(i: NspawnInput): string {
  const files = [
    ...(i.hostModules ? ["BindReadOnly=/lib/modules"] : []),
    ...i.hostDevices.map((d) => `Bind=${d}`),
    ...(i.gpuBinds?.devices ?? []).map((d) => `Bind=${bindArg(d)}`),
    ...(i.gpuBinds?.files ?? []).map((f) => `BindReadOnly=${bindArg(f)}`),
  ];
  return [
    `# ${i.machine}: written by kube-rootfs; changes are replaced on the next provision.`,
    "[Exec]",
    "Boot=yes",
    "Capability=all",
    "PrivateUsers=no",
    // kubelet and containerd need the kernel keyring and eBPF (cgroup device filters).
    "SystemCallFilter=@keyring bpf",
    // kube-rootfs writes /etc/resolv.conf itself (disable-resolved).
    "ResolvConf=off",
    "",
    "[Network]",
    "VirtualEthernet=no",
    ...(files.length ? ["", "[Files]", ...files] : []),
    "",
  ].join("\n");
}
