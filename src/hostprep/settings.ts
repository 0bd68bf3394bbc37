// The kernel settings the node needs of the host, as data: what kubelet's container manager
// insists on, what pod networking needs in the network namespace the machine shares with the
// host, and inotify limits. The machine cannot set them itself: its /proc/sys is read-only but
// for net/, and kubelet exits when a write it needs fails. Pure: the host's values are passed in.
import type { Resolved } from "../config/resolve";

/** exact: the kernel must hold this value; at-least: a higher value the host has is kept. */
export type Rule = "exact" | "at-least";

export interface HostSetting {
  key: string;
  value: string;
  rule: Rule;
  group: keyof typeof GROUPS;
  /** written with sysctl.d's "-": at boot the key may not exist yet (a module loads later) */
  ifPresent?: boolean;
}

/** Why each group is there: the comment above it in the sysctl file. */
export const GROUPS = {
  kubelet: "kubelet's container manager sets these at start (setupKernelTunables) and exits when it cannot: in the machine it cannot.",
  network: "Pod networking in the network namespace the machine shares with the host: routing, bridged pod traffic through iptables, no reverse-path filter dropping pod traffic.",
  inotify: "inotify limits (at least these; a higher value the host had is kept): kubelet, containerd and every pod watching files share them.",
} as const;

/** kubelet's values (pkg/kubelet/cm/container_manager_linux.go); a value it finds different it writes, or dies. */
export const KUBELET_SYSCTLS: HostSetting[] = [
  { key: "vm.overcommit_memory", value: "1", rule: "exact", group: "kubelet" },
  { key: "vm.panic_on_oom", value: "0", rule: "exact", group: "kubelet" },
  { key: "kernel.panic", value: "10", rule: "exact", group: "kubelet" },
  { key: "kernel.panic_on_oops", value: "1", rule: "exact", group: "kubelet" },
  { key: "kernel.keys.root_maxkeys", value: "1000000", rule: "exact", group: "kubelet" },
  { key: "kernel.keys.root_maxbytes", value: "25000000", rule: "exact", group: "kubelet" },
];

/** The host facts the list depends on. */
export interface SettingFacts {
  /** br_netfilter is loaded: /proc/sys/net/bridge exists */
  bridge: boolean;
}

/** A cluster whose DNS service has an IPv6 address routes IPv6 pod traffic too. */
const ipv6 = (goal: Resolved) => goal.kubelet.clusterDNS.some((ip) => ip.includes(":"));

/** Every setting this goal needs on this host, in file order. */
export function hostSettings(goal: Resolved, facts: SettingFacts): HostSetting[] {
  const net = (key: string, value: string): HostSetting => ({ key, value, rule: "exact", group: "network" });
  const inotify = (key: string, value: string): HostSetting => ({ key, value, rule: "at-least", group: "inotify" });
  return [
    ...KUBELET_SYSCTLS,
    net("net.ipv4.ip_forward", "1"),
    ...(ipv6(goal) ? [net("net.ipv6.conf.all.forwarding", "1")] : []),
    // Without them bridged pod-to-pod traffic skips iptables, and Services reached from a pod on
    // the same bridge break; the keys exist only while br_netfilter is loaded.
    ...(facts.bridge ? ["iptables", "ip6tables"].map((t) => ({ ...net(`net.bridge.bridge-nf-call-${t}`, "1"), ifPresent: true })) : []),
    // The kernel filters with the larger of all and the interface's value: strict (1) drops pod
    // traffic that comes back another way (NodePorts, Cilium's lxc devices), loose (2) is fatal
    // to Calico's felix (it requires 0 or 1). 0 is what both accept, and what new pod veths get.
    net("net.ipv4.conf.all.rp_filter", "0"),
    net("net.ipv4.conf.default.rp_filter", "0"),
    inotify("fs.inotify.max_user_instances", "8192"),
    inotify("fs.inotify.max_user_watches", "524288"),
  ];
}

/** A setting against the running kernel: what is there, what the file holds, whether the kernel needs a change. */
export interface SettingState extends HostSetting {
  /** the running kernel's value; undefined when it has no such key */
  current?: string;
  /** what the file holds and the kernel gets: the value, or a higher one the host had for an at-least */
  target: string;
  /** the running kernel needs target written */
  change: boolean;
}

export function settingState(s: HostSetting, current: string | undefined): SettingState {
  if (current === undefined) return { ...s, target: s.value, change: true };
  if (s.rule === "at-least" && Number(current) >= Number(s.value)) return { ...s, current, target: current, change: false };
  return { ...s, current, target: s.value, change: current !== s.value };
}

/** Whether the running value satisfies the recorded target (verify's question). */
export const satisfied = (rule: Rule, target: string, current: string | undefined) =>
  current !== undefined && (rule === "at-least" ? Number(current) >= Number(target) : current === target);

export const SYSCTL_FILE = "/etc/sysctl.d/90-kube-rootfs.conf";

/** The host's sysctl file: one group after the other, each with why it is there. */
export function renderHostSysctl(states: SettingState[]): string {
  const lines = ["# written by kube-rootfs for the Kubernetes node in its machine; kube-rootfs reset removes it."];
  for (const [group, why] of Object.entries(GROUPS)) {
    const members = states.filter((s) => s.group === group);
    if (!members.length) continue;
    lines.push("", `# ${why}`, ...members.map((s) => `${s.ifPresent ? "-" : ""}${s.key} = ${s.target}`));
  }
  return lines.join("\n") + "\n";
}
