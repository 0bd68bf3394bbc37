// The machine's systemd.nspawn(5) settings: host network, all capabilities, the node's devices.
export interface NspawnInput {
  machine: string;
  hostModules: boolean;
  hostDevices: string[];
  gpuDevices: string[];
  gpuLibraries: string[];
}

export function renderNspawn(i: NspawnInput): string {
  const files = [
    ...(i.hostModules ? ["BindReadOnly=/lib/modules"] : []),
    ...[...i.hostDevices, ...i.gpuDevices].map((d) => `Bind=${d}`),
    ...i.gpuLibraries.map((l) => `BindReadOnly=${l}`),
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
